// SignLLM web page: asks /api/translate for poses and plays them on a canvas. No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const BACKGROUND = "#ffffff";
// Example sentences: ones the shipped model signs word by word for its languages, a greeting in
// the spoken language for the others. The page shows the example of the language it picks.
const EXAMPLES = {
  gsg: "und nun die wettervorhersage für morgen",
  ase: "hello, see you at home",
  sgg: "kleine kinder essen pizza",
};
const GREETINGS = {
  en: "good morning", de: "guten morgen", fr: "bonjour", es: "buenos días", it: "buongiorno",
  pt: "bom dia", nl: "goedemorgen", pl: "dzień dobry", sv: "god morgon", da: "godmorgen",
  no: "god morgen", fi: "hyvää huomenta", cs: "dobré ráno", tr: "günaydın", ru: "доброе утро",
  uk: "доброго ранку", el: "καλημέρα", he: "בוקר טוב", ar: "صباح الخير", ja: "おはよう",
  ko: "안녕하세요", zh: "早上好", is: "góðan daginn", et: "tere hommikust", lt: "labas rytas",
  lv: "labrīt", sk: "dobré ráno", hu: "jó reggelt", ro: "bună dimineața", bg: "добро утро",
};

const state = {
  skeleton: null, // {joints, limbs, colours, groups}
  result: null, // the JSON answer of /api/translate
  pixels: null, // per frame, per joint: [x, y] on the canvas, or null when missing
  request: null, // the body that produced `result` (downloads reuse it)
  frame: 0,
  playing: false,
  carry: 0, // fractional frames not yet shown
  last: null, // timestamp of the previous animation tick
  languages: [], // /api/languages
  example: "", // the example text shown (replaced on a language change while untouched)
};

function exampleFor(code) {
  const lang = state.languages.find((l) => l.code === code);
  if (!lang) return "";
  return EXAMPLES[code] || GREETINGS[(lang.spoken_languages || [])[0]] || "";
}

// The sign language of the browser's languages (one the model signs before a fingerspelling
// only one, a language's main spoken language before its others), else the first usable one.
function pickLanguage(usable) {
  const wanted = (navigator.languages && navigator.languages.length
    ? navigator.languages : [navigator.language || "en"]).map((t) => t.slice(0, 2).toLowerCase());
  for (const want of wanted) {
    for (const primary of [true, false]) {
      for (const model of [true, false]) {
        const hit = usable.find((l) => !!l.model === model && (primary
          ? (l.spoken_languages || [])[0] === want : (l.spoken_languages || []).includes(want)));
        if (hit) return hit.code;
      }
    }
  }
  return usable.length ? usable[0].code : "";
}

function showExample() {
  const text = $("text");
  if (text.value && text.value !== state.example) return; // the user's own text stays
  state.example = exampleFor($("language").value);
  text.value = state.example;
}

async function api(path, body) {
  const opts = body === undefined ? {} : {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, opts);
  if (!response.ok) {
    let detail = `${response.status} ${response.statusText}`;
    try {
      const data = await response.json();
      if (data && data.detail) detail = String(data.detail);
    } catch (_) { /* not JSON */ }
    throw new Error(detail);
  }
  return response;
}

function setStatus(text) { $("status").textContent = text; }

function showError(text) {
  const el = $("error");
  el.textContent = text || "";
  el.hidden = !text;
}

function rgb(c) { return `rgb(${c[0]}, ${c[1]}, ${c[2]})`; }

// Canvas pixels of every observed joint: the server's fit (a transform onto a fit.width x
// fit.height canvas, aspect kept) scaled to this canvas; a bounding-box fit if there is none.
function toPixels(result, canvas) {
  const conf = result.confidence;
  let fit = result.fit;
  if (!fit) {
    let lo = [Infinity, Infinity], hi = [-Infinity, -Infinity];
    result.frames.forEach((f, t) => f.forEach((p, j) => {
      if (conf[t][j] > 0) {
        for (let d = 0; d < 2; d++) { lo[d] = Math.min(lo[d], p[d]); hi[d] = Math.max(hi[d], p[d]); }
      }
    }));
    if (!isFinite(lo[0])) return result.frames.map((f) => f.map(() => null));
    const w = canvas.width, h = canvas.height, m = 0.08;
    const s = Math.min((w - 1) * (1 - 2 * m) / Math.max(hi[0] - lo[0], 1e-9),
      (h - 1) * (1 - 2 * m) / Math.max(hi[1] - lo[1], 1e-9));
    fit = { width: w, height: h, scale: s,
      offset: [(w - 1) / 2 - s * (lo[0] + hi[0]) / 2, (h - 1) / 2 - s * (lo[1] + hi[1]) / 2] };
  }
  const k = Math.min(canvas.width / fit.width, canvas.height / fit.height);
  const dx = (canvas.width - fit.width * k) / 2, dy = (canvas.height - fit.height * k) / 2;
  return result.frames.map((f, t) => f.map((p, j) => (conf[t][j] > 0
    ? [(p[0] * fit.scale + fit.offset[0]) * k + dx, (p[1] * fit.scale + fit.offset[1]) * k + dy]
    : null)));
}

function draw() {
  const canvas = $("player");
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = BACKGROUND;
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!state.pixels || !state.skeleton) return;
  const pts = state.pixels[state.frame];
  const sk = state.skeleton;
  const hands = new Set(sk.groups.hands || []);
  const body = Math.max(2, Math.round(Math.min(canvas.width, canvas.height) / 110));
  const hand = Math.max(1, Math.round(body * 0.55));
  // Body limbs first, hands on top: the hands carry most of the signing.
  const order = sk.limbs.map((_, i) => i)
    .sort((a, b) => hands.has(sk.limbs[a][1]) - hands.has(sk.limbs[b][1]));
  ctx.lineCap = "round";
  for (const i of order) {
    const [a, b] = sk.limbs[i];
    if (!pts[a] || !pts[b]) continue;
    ctx.strokeStyle = rgb(sk.colours[i]);
    ctx.lineWidth = hands.has(b) ? hand : body;
    ctx.beginPath();
    ctx.moveTo(pts[a][0], pts[a][1]);
    ctx.lineTo(pts[b][0], pts[b][1]);
    ctx.stroke();
  }
  const jointColour = new Array(pts.length).fill([110, 110, 110]);
  sk.limbs.forEach(([, b], i) => { jointColour[b] = sk.colours[i].map((c) => Math.round(c * 0.7)); });
  pts.forEach((p, j) => {
    if (!p) return;
    ctx.fillStyle = rgb(jointColour[j]);
    ctx.beginPath();
    ctx.arc(p[0], p[1], hands.has(j) ? Math.max(1, hand * 0.75) : body * 1.1, 0, 2 * Math.PI);
    ctx.fill();
  });
}

function showFrame(i) {
  const n = state.result ? state.result.num_frames : 0;
  state.frame = n ? ((i % n) + n) % n : 0;
  $("scrubber").value = String(state.frame);
  $("frame-label").textContent = `${n ? state.frame + 1 : 0} / ${n}`;
  draw();
}

function setPlaying(on) {
  state.playing = on && !!state.result;
  $("play").textContent = state.playing ? "Pause" : "Play";
  $("play").setAttribute("aria-pressed", String(state.playing));
  state.last = null;
  state.carry = 0;
  if (state.playing) requestAnimationFrame(tick);
}

function tick(now) {
  if (!state.playing) return;
  if (state.last !== null) {
    const speed = Number($("speed").value) || 1;
    state.carry += ((now - state.last) / 1000) * state.result.fps * speed;
    const step = Math.floor(state.carry);
    if (step > 0) {
      state.carry -= step;
      showFrame(state.frame + step); // loops at the end
    }
  }
  state.last = now;
  requestAnimationFrame(tick);
}

function currentRequest() {
  return {
    text: $("text").value,
    language: $("language").value,
    mode: document.querySelector("input[name=mode]:checked").value,
  };
}

// Every input word with what signed it: the model, fingerspelling, or nothing (and why).
function describeWords(result) {
  const list = $("words");
  list.replaceChildren();
  for (const { word, source, gloss, reason } of result.words) {
    const item = document.createElement("li");
    const w = document.createElement("span");
    w.textContent = word || "(no word)";
    w.className = { fingerspelled: "fs", dropped: "dropped" }[source] || "";
    const how = { model: "signed by the model", fingerspelled: "fingerspelled",
      dropped: "dropped" }[source] || source;
    const notes = [gloss && gloss !== word ? `gloss ${gloss}` : "", reason || ""].filter(Boolean);
    item.append(w, ` — ${how}${notes.length ? ` (${notes.join("; ")})` : ""}`);
    list.append(item);
  }
  list.hidden = !result.words.length;
  const dropped = result.dropped || [];
  const note = $("dropped");
  note.textContent = dropped.length
    ? `Not signed: ${dropped.map((w) => w || "(a gloss)").join(", ")} (see the reasons above)`
    : "";
  note.hidden = !dropped.length;
}

async function translate(event) {
  if (event) event.preventDefault();
  const body = currentRequest();
  if (!body.text.trim()) { showError("Please type some text."); $("text").focus(); return; }
  if (!body.language) { showError("Please pick a sign language."); return; }
  showError("");
  setPlaying(false);
  $("translate").disabled = true;
  setStatus("Translating…");
  try {
    const result = await (await api("/api/translate", { ...body, format: "json" })).json();
    state.result = result;
    state.request = body;
    state.pixels = toPixels(result, $("player"));
    $("scrubber").max = String(Math.max(0, result.num_frames - 1));
    for (const el of [$("scrubber"), $("play"), ...document.querySelectorAll(".download")]) {
      el.disabled = false;
    }
    describeWords(result);
    showFrame(0);
    const signed = result.text && result.text !== result.input ? `Signed “${result.text}”: ` : "";
    const stage = result.prompt_stage ? ` (${result.prompt_stage} prompt stage)` : "";
    setStatus(`${signed}${result.num_frames} frames at ${result.fps} fps (${result.duration} s), ` +
      `language ${result.language}, mode ${result.mode}${stage}` +
      (result.truncated ? `; cut at the server's frame limit: the whole text needs ` +
        `${result.frames_needed} frames` : "") + ".");
    setPlaying(true);
  } catch (err) {
    setStatus("");
    showError(`Translation failed: ${err.message}`);
  } finally {
    $("translate").disabled = false;
  }
}

function filenameFrom(response, fallback) {
  const cd = response.headers.get("Content-Disposition") || "";
  const m = /filename="?([^";]+)"?/.exec(cd);
  return m ? m[1] : fallback;
}

async function download(button) {
  if (!state.request) return;
  const format = button.dataset.format;
  button.disabled = true;
  setStatus(`Preparing the .${format} file…`);
  try {
    const response = await api("/api/translate", { ...state.request, format });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = filenameFrom(response, `signllm.${format}`);
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
    setStatus(`Downloaded ${a.download} (${blob.size} bytes).`);
  } catch (err) {
    setStatus("");
    showError(`Download failed: ${err.message}`);
  } finally {
    button.disabled = false;
  }
}

async function init() {
  draw();
  $("translate-form").addEventListener("submit", translate);
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) translate(e);
  });
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("scrubber").addEventListener("input", (e) => { setPlaying(false); showFrame(Number(e.target.value)); });
  $("player").addEventListener("keydown", (e) => {
    if (!state.result) return;
    if (e.key === " ") { e.preventDefault(); setPlaying(!state.playing); }
    if (e.key === "ArrowRight") { setPlaying(false); showFrame(state.frame + 1); }
    if (e.key === "ArrowLeft") { setPlaying(false); showFrame(state.frame - 1); }
  });
  document.querySelectorAll(".download").forEach((b) => b.addEventListener("click", () => download(b)));
  try {
    const [skeleton, languages, health] = await Promise.all([
      api("/api/skeleton").then((r) => r.json()),
      api("/api/languages").then((r) => r.json()),
      api("/health").then((r) => r.json()),
    ]);
    state.skeleton = skeleton;
    $("version").textContent = health.version;
    if (health.limits) {
      $("text").maxLength = health.limits.max_text_chars;
      $("max-chars").textContent = String(health.limits.max_text_chars);
    }
    state.languages = languages.languages;
    // Languages the model signs first, then fingerspelling-only ones, then the rest (disabled).
    const select = $("language");
    select.replaceChildren();
    const groups = [
      ["Signed by the model", (l) => l.model],
      ["Fingerspelling only", (l) => !l.model && l.fingerspelling],
      ["Not available on this server", (l) => !l.model && !l.fingerspelling],
    ];
    for (const [label, keep] of groups) {
      const langs = languages.languages.filter(keep);
      if (!langs.length) continue;
      const group = document.createElement("optgroup");
      group.label = label;
      for (const lang of langs) {
        const option = document.createElement("option");
        option.value = lang.code;
        option.textContent = `${lang.name} (${lang.code})`;
        option.dataset.model = String(!!lang.model);
        option.disabled = !lang.model && !lang.fingerspelling;
        group.append(option);
      }
      select.append(group);
    }
    const picked = pickLanguage(state.languages.filter((l) => l.model || l.fingerspelling));
    if (picked) select.value = picked;
    select.addEventListener("change", showExample);
    showExample();
    $("translate").disabled = false;
  } catch (err) {
    showError(`Could not reach the server: ${err.message}`);
  }
}

document.addEventListener("DOMContentLoaded", init);
