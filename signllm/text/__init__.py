"""Text side of the pipeline: tokenizers for glosses and spoken-language sentences."""

from .tokenizers import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    TOKENIZER_FILE,
    UNK_ID,
    LangWordVocab,
    SubwordTokenizer,
    Tokenizer,
    WordVocab,
    check_vocab_size,
    language_marker,
    load_tokenizer,
    tokenizer_from_dict,
)

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "TOKENIZER_FILE",
    "UNK_ID",
    "LangWordVocab",
    "SubwordTokenizer",
    "Tokenizer",
    "WordVocab",
    "check_vocab_size",
    "language_marker",
    "load_tokenizer",
    "tokenizer_from_dict",
]
