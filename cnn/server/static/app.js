// cnn serve: the drawing page. Plain JavaScript, no library, no build step.
// The canvas is sent as a PNG to POST /api/predict?activations=1 (debounced while drawing);
// the answer fills the bars, the 28 x 28 network input and the activation maps.
"use strict";

const STROKE = 20;        // px on the 280 px canvas: a 200 px digit gets MNIST's stroke ratio
const DEBOUNCE_MS = 120;  // wait this long after the last pen move before asking
const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const state = {
  strokes: [],       // each a list of [x, y] in canvas pixels
  current: null,     // the stroke being drawn
  revision: 0,       // bumped on every change of the drawing
  source: "canvas",  // what the shown result is for: "canvas" or "photo"
  photo: null,       // the chosen photo (a File)
  timer: null,
  asked: 0,          // number of the latest request; older answers are dropped
  model: null,       // id from /api/models
};

// ---------------------------------------------------------------- drawing
function paint() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = STROKE;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of state.strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0][0], s[0][1], STROKE / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    for (const [x, y] of s.slice(1)) ctx.lineTo(x, y);
    ctx.stroke();
  }
}

function point(e) {
  const r = pad.getBoundingClientRect();
  return [(e.clientX - r.left) * pad.width / r.width, (e.clientY - r.top) * pad.height / r.height];
}

function changed(now) {
  state.revision += 1;
  pad.dataset.revision = String(state.revision);
  state.source = "canvas";
  clearTimeout(state.timer);
  if (state.strokes.length === 0) { showEmpty(); return; }
  if (now) predictCanvas(); else state.timer = setTimeout(predictCanvas, DEBOUNCE_MS);
}

pad.addEventListener("pointerdown", (e) => {
  if (e.button !== 0 && e.pointerType === "mouse") return;
  e.preventDefault();
  pad.setPointerCapture(e.pointerId);
  state.current = [point(e)];
  state.strokes.push(state.current);
  paint();
  changed(false);
});
pad.addEventListener("pointermove", (e) => {
  if (!state.current) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
  for (const c of (events.length ? events : [e])) state.current.push(point(c));
  paint();
  changed(false);
});
function endStroke(e) {
  if (!state.current) return;
  state.current = null;
  if (pad.hasPointerCapture(e.pointerId)) pad.releasePointerCapture(e.pointerId);
  changed(true);
}
pad.addEventListener("pointerup", endStroke);
pad.addEventListener("pointercancel", endStroke);

function undo() { if (state.strokes.length) { state.strokes.pop(); paint(); changed(true); } }
function clearPad() { state.strokes = []; paint(); changed(true); }
$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearPad);
document.addEventListener("keydown", (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key.toLowerCase() === "z") { e.preventDefault(); undo(); }
  else if (e.key === "Escape" && document.activeElement === pad) { clearPad(); }
});

// ---------------------------------------------------------------- asking the server
function url(extra) {
  const q = new URLSearchParams({ activations: "1" });
  if (state.model) q.set("model", state.model);
  for (const [k, v] of Object.entries(extra || {})) q.set(k, v);
  return "/api/predict?" + q.toString();
}

async function ask(body, headers, extra, revision, source) {
  const n = ++state.asked;
  $("result").dataset.state = "pending";
  let answer;
  try {
    const response = await fetch(url(extra), { method: "POST", body, headers });
    answer = await response.json();
    if (!response.ok && !answer.error) answer = { error: `HTTP ${response.status}` };
  } catch (err) {
    answer = { error: "the server did not answer (" + err.message + "); is 'cnn serve' running?" };
  }
  if (n !== state.asked) return;  // a newer request is on its way
  show(answer, revision, source);
}

function predictCanvas() {
  if (!state.strokes.length) return;
  const revision = state.revision;
  pad.toBlob((blob) => ask(blob, { "Content-Type": "image/png" }, { name: "canvas" }, revision, "canvas"),
             "image/png");
}

function predictPhoto() {
  if (!state.photo) return;
  const form = new FormData();
  form.append("file", state.photo, state.photo.name);
  ask(form, {}, {}, state.revision, "photo");
}

function again() { if (state.source === "photo") predictPhoto(); else if (state.strokes.length) predictCanvas(); }

// ---------------------------------------------------------------- showing the answer
const bars = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.innerHTML = `<span>${d}</span><span class="bar"><span></span></span><span class="p">0%</span>`;
  $("bars").appendChild(li);
  bars.push(li);
}

function pct(p) { return (100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1) + "%"; }

function showEmpty() {
  state.asked += 1;
  const result = $("result");
  result.dataset.state = "empty";
  result.dataset.revision = String(state.revision);
  $("digit").textContent = "?";
  $("digit").removeAttribute("data-digit");
  $("confidence").textContent = "draw a digit";
  $("unsure").hidden = true;
  $("error").hidden = true;
  $("rejected").hidden = true;
  for (const li of bars) setBar(li, 0, false);
  const c = $("input28").getContext("2d");
  c.clearRect(0, 0, 28, 28);
  $("maps").replaceChildren();
  delete $("maps").dataset.key;
}

function setBar(li, p, top) {
  li.querySelector(".bar span").style.width = (100 * p).toFixed(1) + "%";
  li.querySelector(".p").textContent = pct(p);
  li.classList.toggle("top", top);
  li.setAttribute("aria-label", `${li.firstChild.textContent}: ${pct(p)}`);
}

function show(answer, revision, source) {
  const result = $("result");
  result.dataset.revision = String(revision);
  if (answer.error) {
    result.dataset.state = "error";
    $("error").textContent = answer.error;
    $("error").hidden = false;
    $("digit").textContent = "?";
    $("digit").removeAttribute("data-digit");
    $("confidence").textContent = "";
    $("unsure").hidden = true;
    $("rejected").hidden = true;
    return;
  }
  $("error").hidden = true;
  if (answer.rejected) {  // "not a digit": the gate's answer (or a blank image)
    result.dataset.state = "rejected";
    $("digit").textContent = "not a digit";
    $("digit").removeAttribute("data-digit");
    $("confidence").textContent = `(${answer.file})`;
    $("unsure").hidden = true;
    $("rejected").textContent = answer.reason;
    $("rejected").hidden = false;
    (answer.probabilities || []).forEach((p, d) => setBar(bars[d], p, false));
    if (answer.input) drawInput($("input28"), answer.input);
    if (answer.input && source === "photo") drawInput($("photo28"), answer.input);
    drawMaps(answer.activations || []);
    return;
  }
  result.dataset.state = "done";
  $("rejected").hidden = true;
  $("digit").textContent = String(answer.digit);
  $("digit").dataset.digit = String(answer.digit);
  $("confidence").textContent = `${pct(answer.confidence)} sure (${answer.file})`;
  $("unsure").hidden = !answer.uncertain;
  answer.probabilities.forEach((p, d) => setBar(bars[d], p, d === answer.digit));
  drawInput($("input28"), answer.input);
  if (source === "photo") drawInput($("photo28"), answer.input);
  drawMaps(answer.activations || []);
}

function drawInput(canvas, rows) {
  const c = canvas.getContext("2d");
  const img = c.createImageData(28, 28);
  rows.flat().forEach((v, i) => { img.data.set([v, v, v, 255], 4 * i); });
  c.putImageData(img, 0, 0);
}

function decode(b64) {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

function drawMaps(tokens) {
  const root = $("maps");
  // Reuse the tiles when the layer structure is unchanged (live updates while drawing).
  const key = tokens.map((t) => `${t.label}:${t.channels}x${t.height}x${t.width}`).join("|");
  if (root.dataset.key !== key) {
    root.replaceChildren();
    root.dataset.key = key;
    tokens.forEach((t, i) => {
      const section = document.createElement("section");
      section.className = "token";
      section.setAttribute("aria-labelledby", `token-${i}`);
      const h = document.createElement("h3");
      h.id = `token-${i}`;
      h.textContent = `${t.label}: ${t.channels} x ${t.height} x ${t.width}`;
      const tiles = document.createElement("div");
      tiles.className = "tiles";
      for (let c = 0; c < t.channels; c++) {
        const tile = document.createElement("canvas");
        tile.width = t.width;
        tile.height = t.height;
        tile.setAttribute("role", "img");
        tile.setAttribute("aria-label", `${t.label}, channel ${c}`);
        tiles.appendChild(tile);
      }
      section.append(h, tiles);
      root.appendChild(section);
    });
  }
  const sections = root.querySelectorAll(".token");
  tokens.forEach((t, i) => {
    const data = decode(t.data);
    const plane = t.height * t.width;
    sections[i].querySelectorAll("canvas").forEach((tile, c) => {
      const g = tile.getContext("2d");
      const img = g.createImageData(t.width, t.height);
      for (let k = 0; k < plane; k++) {
        const v = data[c * plane + k];
        img.data[4 * k] = v; img.data[4 * k + 1] = v; img.data[4 * k + 2] = v; img.data[4 * k + 3] = 255;
      }
      g.putImageData(img, 0, 0);
    });
  });
}

// ---------------------------------------------------------------- photos
function usePhoto(file) {
  if (!file) return;
  state.photo = file;
  state.source = "photo";
  const preview = $("photo-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.alt = `the photo ${file.name}`;
  preview.parentElement.hidden = false;
  predictPhoto();
}
$("photo").addEventListener("change", (e) => usePhoto(e.target.files[0]));
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  usePhoto(e.dataTransfer.files[0]);
});

// ---------------------------------------------------------------- models
async function loadModels() {
  const select = $("model");
  try {
    const listing = await (await fetch("/api/models")).json();
    for (const m of listing.models) {
      const option = document.createElement("option");
      option.value = m.id;
      const acc = m.accuracy == null ? "accuracy not recorded" : `${(100 * m.accuracy).toFixed(2)}% test accuracy`;
      option.textContent = `${m.model} (${acc})`;
      option.dataset.name = m.name;
      if (m.default) option.selected = true;
      select.appendChild(option);
    }
    state.model = select.value;
    describeModel();
  } catch (err) {
    $("model-info").textContent = "could not list the models: " + err.message;
  }
}
function describeModel() {
  const option = $("model").selectedOptions[0];
  $("model-info").textContent = option ? option.dataset.name : "";
}
$("model").addEventListener("change", () => {
  state.model = $("model").value;
  describeModel();
  again();
});

paint();
showEmpty();
loadModels();
