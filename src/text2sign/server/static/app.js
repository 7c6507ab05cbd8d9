// The text2sign page: asks this server for signing as JSON frames and draws them on a canvas.
// No library and no request anywhere but this server (the page's Content-Security-Policy says so).
"use strict";

const $ = (id) => document.getElementById(id);
const KIND_COLOURS = { body: "#5f6368", face: "#9aa0a6", left_hand: "#0b57d0", right_hand: "#d93025" };
const DEFAULT_PAIR = { spoken: "en", signed: "ase" };

const state = {
  pairs: [],
  signing: null,   // the last /api/v1/generate?format=json answer
  request: null,   // the request that produced it (downloads ask for the same signing)
  box: null,       // drawing box over all frames
  time: 0,         // seconds into the signing
  playing: false,
  last: 0,
  startedAt: null, // performance.now() when Sign was pressed
};
// What a test or a curious user can read back: frames drawn and time to the first one.
window.text2sign = { firstFrameMs: null, framesDrawn: 0 };

async function api(path, body) {
  const init = body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  if (!response.ok) {
    let message = `${response.status} ${response.statusText}`;
    try { message = (await response.json()).error || message; } catch (_) { /* not JSON */ }
    throw new Error(message);
  }
  return response;
}

function option(select, value, label, selected) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = label;
  o.selected = selected;
  select.append(o);
}

function fillSigned(preferred) {
  const signed = $("signed");
  const codes = [...new Set(state.pairs.map((p) => p.signed))].sort();
  const keep = codes.includes(preferred) ? preferred : codes[0];
  signed.replaceChildren();
  for (const code of codes) {
    const borrow = state.pairs.find((p) => p.signed === code && p.borrows);
    option(signed, code, borrow ? `${code} (alphabet of ${borrow.borrows})` : code, code === keep);
  }
  fillSpoken($("spoken").value || DEFAULT_PAIR.spoken);
}

function fillSpoken(preferred) {
  const spoken = $("spoken");
  const codes = state.pairs.filter((p) => p.signed === $("signed").value).map((p) => p.spoken).sort();
  const any = codes.includes("*");
  const list = any ? [preferred || DEFAULT_PAIR.spoken] : codes;
  spoken.replaceChildren();
  for (const code of list) option(spoken, code, any ? `${code} (any language)` : code, code === preferred);
}

async function loadLanguages() {
  const model = $("model").value;
  const answer = await (await api(`/api/v1/languages${model ? `?model=${encodeURIComponent(model)}` : ""}`)).json();
  state.pairs = answer.pairs;
  const signed = $("signed").value || DEFAULT_PAIR.signed;
  const spoken = $("spoken").value || DEFAULT_PAIR.spoken;
  fillSigned(signed);
  fillSpoken(spoken);
}

async function loadModels() {
  const select = $("model");
  option(select, "", "server default", true);
  try {
    const rows = await (await api("/api/v1/models")).json();
    select.replaceChildren();
    // The player draws poses; video models are reached through the API.
    for (const row of rows.filter((r) => r.output === "pose")) {
      option(select, row.name, row.default ? `${row.name} (default)` : row.name, row.default);
    }
    select.dataset.loaded = "true";
  } catch (error) {
    showError(`could not list the models: ${error.message}`);
  }
}

function showError(message) { $("error").textContent = message; }
function showStatus(message) { $("status").textContent = message; }

function currentRequest() {
  const request = { text: $("text").value, spoken: $("spoken").value, signed: $("signed").value };
  if ($("model").value) request.model = $("model").value;
  return request;
}

async function sign(event) {
  event.preventDefault();
  showError("");
  const request = currentRequest();
  if (!request.text.trim()) { showError("type something to sign"); return; }
  $("sign").disabled = true;
  showStatus("signing…");
  state.startedAt = performance.now();
  window.text2sign.firstFrameMs = null;
  try {
    const signing = await (await api("/api/v1/generate", { ...request, format: "json" })).json();
    start(signing, request);
    showStatus(`${signing.num_frames} frames, ${(signing.num_frames / signing.fps).toFixed(1)} s at ${signing.fps} fps`);
  } catch (error) {
    showStatus("");
    showError(error.message);
  } finally {
    $("sign").disabled = false;
  }
}

function start(signing, request) {
  state.signing = signing;
  state.request = request;
  state.box = boundingBox(signing.frames);
  state.time = 0;
  const words = $("words");
  words.replaceChildren();
  signing.words.forEach((w, i) => {
    const span = document.createElement("span");
    span.className = "word";
    span.textContent = w.label;
    span.dataset.index = i;
    words.append(span, " ");
  });
  const list = $("warnings");
  list.replaceChildren();
  for (const warning of signing.warnings) {
    const li = document.createElement("li");
    li.textContent = warning;
    list.append(li);
  }
  for (const b of document.querySelectorAll(".downloads button, #play")) b.disabled = false;
  setPlaying(true);
  draw();
}

function boundingBox(frames) {
  // 1st to 99th percentile of all points, so one stray joint does not shrink the signer.
  const xs = [], ys = [];
  for (const f of frames) for (let j = 0; j < f.length; j += 2) if (f[j] !== null) { xs.push(f[j]); ys.push(f[j + 1]); }
  if (!xs.length) return { x0: 0, y0: 0, x1: 1, y1: 1 };
  const q = (a, p) => a[Math.min(a.length - 1, Math.floor(p * a.length))];
  xs.sort((a, b) => a - b); ys.sort((a, b) => a - b);
  return { x0: q(xs, 0.01), x1: q(xs, 0.99), y0: q(ys, 0.01), y1: q(ys, 0.99) };
}

function frameIndex() {
  const s = state.signing;
  return Math.min(s.num_frames - 1, Math.floor(state.time * s.fps));
}

function draw() {
  const s = state.signing;
  if (!s) return;
  const canvas = $("canvas");
  const ctx = canvas.getContext("2d");
  const t = frameIndex();
  const frame = s.frames[t];
  const { x0, y0, x1, y1 } = state.box;
  const margin = 0.08 * canvas.width;
  const scale = Math.min((canvas.width - 2 * margin) / Math.max(x1 - x0, 1e-9), (canvas.height - 2 * margin) / Math.max(y1 - y0, 1e-9));
  const ox = (canvas.width - (x1 - x0) * scale) / 2 - x0 * scale;
  const oy = (canvas.height - (y1 - y0) * scale) / 2 - y0 * scale;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.lineCap = "round";
  const kindOf = [];
  for (const c of s.layout.components) for (let j = 0; j < c.count; j++) kindOf[c.start + j] = c.kind;
  for (const [a, b] of s.layout.bones) {
    const ax = frame[2 * a], bx = frame[2 * b];
    if (ax === null || bx === null) continue;
    const kind = kindOf[a];
    ctx.strokeStyle = KIND_COLOURS[kind] || "#5f6368";
    ctx.lineWidth = kind === "face" ? 1.5 : kind === "body" ? 5 : 3;
    ctx.beginPath();
    ctx.moveTo(ax * scale + ox, frame[2 * a + 1] * scale + oy);
    ctx.lineTo(bx * scale + ox, frame[2 * b + 1] * scale + oy);
    ctx.stroke();
  }
  canvas.dataset.frame = String(t);
  window.text2sign.framesDrawn += 1;
  if (window.text2sign.firstFrameMs === null && state.startedAt !== null) {
    window.text2sign.firstFrameMs = performance.now() - state.startedAt;
  }
  $("frame-info").textContent = `frame ${t + 1} / ${s.num_frames}`;
  highlight(t);
}

function highlight(t) {
  const index = state.signing.words.findIndex((w) => w.start <= t && t < w.end);
  for (const span of $("words").querySelectorAll(".word")) {
    const current = Number(span.dataset.index) === index;
    span.classList.toggle("current", current);
    if (current) span.setAttribute("aria-current", "true"); else span.removeAttribute("aria-current");
  }
}

function tick(now) {
  if (state.playing && state.signing) {
    const s = state.signing;
    state.time += ((now - state.last) / 1000) * Number($("speed").value);
    const duration = s.num_frames / s.fps;
    if (state.time >= duration) {
      if ($("loop").checked) state.time %= duration;
      else { state.time = duration - 1 / s.fps; setPlaying(false); }
    }
    draw();
  }
  state.last = now;
  requestAnimationFrame(tick);
}

function setPlaying(playing) {
  state.playing = playing;
  const button = $("play");
  button.textContent = playing ? "Pause" : "Play";
  button.setAttribute("aria-pressed", String(playing));
}

function step(frames) {
  if (!state.signing) return;
  setPlaying(false);
  const s = state.signing;
  state.time = Math.max(0, Math.min(s.num_frames - 1, frameIndex() + frames)) / s.fps;
  draw();
}

async function download(format) {
  if (!state.request) return;
  showError("");
  showStatus(format === "pose" ? "preparing the .pose file…" : `drawing the ${format.toUpperCase()}…`);
  try {
    const response = await api("/api/v1/generate", { ...state.request, format });
    const url = URL.createObjectURL(await response.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = `signing.${format}`;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    showStatus(`downloaded signing.${format}`);
  } catch (error) {
    showStatus("");
    showError(error.message);
  }
}

function updateSpeed() {
  const value = Number($("speed").value);
  $("speed-value").textContent = `${value}×`;
  $("speed").setAttribute("aria-valuetext", `${value} times`);
}

async function init() {
  $("sign-form").addEventListener("submit", sign);
  $("text").addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) $("sign-form").requestSubmit();
  });
  $("signed").addEventListener("change", () => fillSpoken($("spoken").value));
  $("model").addEventListener("change", () => loadLanguages().catch((e) => showError(e.message)));
  $("play").addEventListener("click", () => {
    if (!state.playing && state.signing && frameIndex() >= state.signing.num_frames - 1) state.time = 0;
    setPlaying(!state.playing);
  });
  $("speed").addEventListener("input", updateSpeed);
  $("canvas").addEventListener("keydown", (e) => {
    if (e.key === " " || e.key === "k") { e.preventDefault(); $("play").click(); }
    else if (e.key === "ArrowRight") { e.preventDefault(); step(1); }
    else if (e.key === "ArrowLeft") { e.preventDefault(); step(-1); }
  });
  for (const b of document.querySelectorAll(".downloads button")) b.addEventListener("click", () => download(b.dataset.format));
  requestAnimationFrame((now) => { state.last = now; requestAnimationFrame(tick); });
  try {
    await loadLanguages();
    $("sign").disabled = false;
  } catch (error) {
    showError(`could not reach the server: ${error.message}`);
  }
  loadModels();
}

init();
