// cnn serve: the drawing page. Plain JavaScript, no library, no build step.
// The canvas is sent as a PNG to POST /api/predict?activations=1&max_digits=12 (debounced while
// drawing); the answer fills the bars, the 28 x 28 network input and the activation maps. A
// number of two or more digits is shown big, with a box over each digit (an overlay, never
// painted into the drawing), one row of bars per digit, and one digit (picked on the number or
// its row; the first by default) through the 28 x 28 input and the activation maps.
"use strict";

const STROKE = 20;        // px on the 280 px tall canvas: a 200 px digit gets MNIST's stroke ratio
const MAX_DIGITS = 12;    // the longest number read (the API's max_digits)
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
  number: null,      // the shown answer when it is a number of 2+ digits
  picked: 0,         // which of its digits goes through the input and maps view
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
  const q = new URLSearchParams({ activations: "1", max_digits: String(MAX_DIGITS) });
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
  clearNumber();
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
  clearNumber();
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
  if (answer.digits && answer.digits.length > 1) { showNumber(answer, source); return; }
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

// ---------------------------------------------------------------- numbers
function clearNumber() {
  state.number = null;
  state.picked = 0;
  delete $("result").dataset.number;
  delete $("result").dataset.picked;
  $("pick-hint").hidden = true;
  $("number-bars").hidden = true;
  $("number-bars").replaceChildren();
  $("bars").hidden = false;
  $("input-which").textContent = "";
  $("pad-boxes").replaceChildren();
  $("photo-boxes").replaceChildren();
}

function showNumber(answer, source) {
  const result = $("result");
  result.dataset.state = "done";
  result.dataset.number = answer.number;
  state.number = answer;
  $("rejected").hidden = true;
  $("unsure").hidden = !answer.uncertain;
  const n = answer.digits.length;
  const big = $("digit");
  big.replaceChildren();
  big.dataset.digit = answer.number;
  answer.digits.forEach((d, k) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "pick";
    b.textContent = d.digit == null ? "?" : String(d.digit);
    b.setAttribute("aria-label", `digit ${k + 1} of ${n}: ${b.textContent}, ${pct(d.confidence)} sure; show its layers`);
    b.addEventListener("click", () => pick(k));
    big.appendChild(b);
  });
  $("confidence").textContent = `a number of ${n} digits (${answer.file})`;
  $("pick-hint").hidden = false;
  $("bars").hidden = true;
  const rows = $("number-bars");
  rows.hidden = false;
  answer.digits.forEach((d, k) => {
    const row = document.createElement("div");
    row.className = "digit-row";
    const label = document.createElement("button");
    label.type = "button";
    label.className = "row-label";
    label.textContent = d.digit == null ? "?" : String(d.digit);
    label.setAttribute("aria-label", `digit ${k + 1} of ${n}: show its layers`);
    label.addEventListener("click", () => pick(k));
    const mini = document.createElement("ol");
    mini.className = "mini";
    mini.setAttribute("aria-label", `digit ${k + 1} of ${n}: probability of each digit`);
    (d.probabilities || []).forEach((p, c) => {
      const li = document.createElement("li");
      li.classList.toggle("top", c === d.digit);
      li.setAttribute("aria-label", `${c}: ${pct(p)}`);
      li.title = `${c}: ${pct(p)}`;
      li.innerHTML = `<span class="col"><span style="height:${(100 * p).toFixed(1)}%"></span></span><span class="c">${c}</span>`;
      mini.appendChild(li);
    });
    const p = document.createElement("span");
    p.className = "p";
    p.textContent = pct(d.confidence);
    row.append(label, mini, p);
    rows.appendChild(row);
  });
  const preview = $("photo-preview");
  if (source === "photo" && !(preview.complete && preview.naturalWidth)) {
    preview.addEventListener("load", () => { if (state.number === answer) drawBoxes(answer, source); },
                             { once: true });
  } else {
    drawBoxes(answer, source);
  }
  pick(0);
}

// A box over each digit, in percent of the posted image (the canvas, or the photo as shown).
function drawBoxes(answer, source) {
  const photo = source === "photo";
  const layer = photo ? $("photo-boxes") : $("pad-boxes");
  const width = photo ? $("photo-preview").naturalWidth : pad.width;
  const height = photo ? $("photo-preview").naturalHeight : pad.height;
  layer.replaceChildren();
  answer.digits.forEach((d, k) => {
    if (!d.box || !width || !height) return;
    const [x0, y0, x1, y1] = d.box;
    const box = document.createElement("span");
    box.className = "box";
    box.dataset.k = String(k);
    box.classList.toggle("picked", k === state.picked);
    box.style.left = `${(100 * x0 / width).toFixed(2)}%`;
    box.style.top = `${(100 * y0 / height).toFixed(2)}%`;
    box.style.width = `${(100 * (x1 - x0) / width).toFixed(2)}%`;
    box.style.height = `${(100 * (y1 - y0) / height).toFixed(2)}%`;
    box.textContent = String(k + 1);
    if (photo) box.addEventListener("click", () => pick(k));  // the canvas is for drawing
    layer.appendChild(box);
  });
}

function pick(k) {
  const answer = state.number;
  if (!answer || k < 0 || k >= answer.digits.length) return;
  state.picked = k;
  const d = answer.digits[k];
  $("result").dataset.picked = String(k);
  $("digit").querySelectorAll(".pick").forEach((b, i) => b.setAttribute("aria-pressed", String(i === k)));
  $("number-bars").querySelectorAll(".digit-row").forEach((r, i) => r.classList.toggle("picked", i === k));
  for (const layer of [$("pad-boxes"), $("photo-boxes")]) {
    layer.querySelectorAll(".box").forEach((b) => b.classList.toggle("picked", b.dataset.k === String(k)));
  }
  $("input-which").textContent = ` of digit ${k + 1} of ${answer.digits.length} (${d.digit == null ? "?" : d.digit})`;
  if (d.input) {
    drawInput($("input28"), d.input);
    if (state.source === "photo") drawInput($("photo28"), d.input);
  }
  drawMaps(d.activations || []);
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
  preview.closest(".photo-row").hidden = false;
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
