// SignLLM web page: asks /api/translate for poses and plays them on a canvas. No dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const BACKGROUND = "#ffffff";

const state = {
  skeleton: null, // {joints, limbs, colours, groups}
  result: null, // the JSON answer of /api/translate
  pixels: null, // per frame, per joint: [x, y] on the canvas, or null when missing
  request: null, // the body that produced `result` (downloads reuse it)
  frame: 0,
  playing: false,
  carry: 0, // fractional frames not yet shown
  last: null, // timestamp of the previous animation tick
};

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

function describeWords(result) {
  const words = $("words");
  words.replaceChildren();
  if (result.words.length) {
    words.append("Words (dotted: fingerspelled): ");
    result.words.forEach(({ word, source }, i) => {
      const span = document.createElement("span");
      span.textContent = word;
      if (source !== "model") {
        span.className = source === "fingerspelled" ? "fs" : "skipped";
        span.title = source;
      }
      if (i) words.append(" ");
      words.append(span);
    });
  }
  words.hidden = !result.words.length;
  const fs = $("fingerspelled");
  fs.textContent = result.fingerspelled.length
    ? `Fingerspelled (no sign for them in the model): ${result.fingerspelled.join(", ")}`
    : "";
  fs.hidden = !result.fingerspelled.length;
  const skipped = result.skipped || [];
  const sk = $("skipped");
  sk.textContent = skipped.length
    ? `Left out (no sign and no fingerspelling for them): ${skipped.join(", ")}`
    : "";
  sk.hidden = !skipped.length;
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
    setStatus(`${signed}${result.num_frames} frames at ${result.fps} fps (${result.duration} s), ` +
      `language ${result.language}, mode ${result.mode}` +
      (result.truncated ? ", cut at the frame limit" : "") + ".");
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
    const first = [...select.options].find((o) => !o.disabled);
    if (first) select.value = first.value;
    $("translate").disabled = false;
  } catch (err) {
    showError(`Could not reach the server: ${err.message}`);
  }
}

document.addEventListener("DOMContentLoaded", init);
