// page.js: the drawing page of `cnn export --web`, the browser twin of `cnn serve`'s page.
// Plain JavaScript, no library, no build step, no server: the drawing (or a photo) is turned
// into the 28 x 28 MNIST-like input here (cnn.preprocess, mirroring cnn/preprocess.py for a
// drawing), the network runs here (cnn.js), and the answer fills the bars, the 28 x 28 input
// and the activation maps of every layer.
"use strict";

// ================================================================ preprocessing
// What cnn.preprocess.to_mnist does to a clean drawing, step by step (its _normalise and
// _place): crop to the ink, size-normalise the long side to MNIST's 20 x 20 box at 4x the
// output resolution (77 fine pixels), lift the stroke cores to 1.0, place the centre of mass
// at (14, 14) to a quarter pixel, and take 4 x 4 block means. Not done here (cnn predict and
// cnn serve do it): illumination flattening, ruled-line / box / underline removal, choosing
// among candidate segmentations by the network's confidence, re-stroking far-off stroke
// widths, and the not-a-digit gate.
const OUT = 28, BOX = 20, SUB = 4, CENTRE = 14;

// numpy.percentile (linear interpolation) of an array of numbers, q in [0, 100].
function percentile(values, q) {
  const a = Float64Array.from(values).sort();
  const idx = (a.length - 1) * q / 100, lo = Math.floor(idx), hi = Math.ceil(idx);
  return a[lo] + (a[hi] - a[lo]) * (idx - lo);
}

// For each of dn output cells, the source cells it covers and their weights (cv2.INTER_AREA:
// the mean over the output cell's footprint).
function areaWeights(sn, dn) {
  const ratio = sn / dn, cells = [];
  for (let d = 0; d < dn; d++) {
    const a = d * ratio, b = (d + 1) * ratio, taps = [];
    for (let s = Math.floor(a); s < Math.min(sn, Math.ceil(b)); s++) {
      const w = Math.min(b, s + 1) - Math.max(a, s);
      if (w > 1e-9) taps.push([s, w / ratio]);
    }
    cells.push(taps);
  }
  return cells;
}

// For each output cell, the two source cells and weights of a linear interpolation
// (half-pixel centres, as cv2.resize; cv2 uses cubic when enlarging).
function linearWeights(sn, dn) {
  const cells = [];
  for (let d = 0; d < dn; d++) {
    const x = Math.min(Math.max((d + 0.5) * sn / dn - 0.5, 0), sn - 1);
    const lo = Math.floor(x), hi = Math.min(lo + 1, sn - 1), f = x - lo;
    cells.push(hi === lo ? [[lo, 1]] : [[lo, 1 - f], [hi, f]]);
  }
  return cells;
}

// cv2.resize of a (h, w) float image to (dh, dw): area when shrinking, linear when enlarging.
function resize(img, w, h, dw, dh) {
  const cx = (dw < w ? areaWeights : linearWeights)(w, dw);
  const cy = (dh < h ? areaWeights : linearWeights)(h, dh);
  const tmp = new Float64Array(h * dw);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < dw; x++) {
      let v = 0;
      for (const [s, wt] of cx[x]) v += img[y * w + s] * wt;
      tmp[y * dw + x] = v;
    }
  }
  const out = new Float64Array(dh * dw);
  for (let y = 0; y < dh; y++) {
    for (const [s, wt] of cy[y]) {
      for (let x = 0; x < dw; x++) out[y * dw + x] += tmp[s * dw + x] * wt;
    }
  }
  return out;
}

// cnn.preprocess._place: 28 x 28 block means of the fine image (4 fine pixels per output
// pixel), placed so that its centre of mass lands within 1/8 pixel of (14, 14).
function place(digit, w, h) {
  let m = 0, my = 0, mx = 0;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) { const v = digit[y * w + x]; m += v; my += v * y; mx += v * x; }
  }
  const cy = my / m, cx = mx / m;
  const top = Math.round(SUB * CENTRE + (SUB - 1) / 2 - cy);
  const left = Math.round(SUB * CENTRE + (SUB - 1) / 2 - cx);
  const n = SUB * OUT, out = new Float64Array(OUT * OUT);
  for (let y = Math.max(0, top); y < Math.min(n, top + h); y++) {
    for (let x = Math.max(0, left); x < Math.min(n, left + w); x++) {
      out[Math.floor(y / SUB) * OUT + Math.floor(x / SUB)] += digit[(y - top) * w + (x - left)];
    }
  }
  for (let i = 0; i < out.length; i++) out[i] /= SUB * SUB;
  return out;
}

function maxOf(a) { let m = -Infinity; for (const v of a) if (v > m) m = v; return m; }

// cnn.preprocess._normalise from the crop on: `ink` (w x h, bright ink, already levelled to
// [0, 1]) -> 784 numbers in [0, 1], white digit on black. Throws when there is no ink.
function normalise(ink, w, h) {
  let y0 = h, y1 = -1, x0 = w, x1 = -1;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      if (ink[y * w + x] > 0.05) { y0 = Math.min(y0, y); y1 = Math.max(y1, y); x0 = Math.min(x0, x); x1 = Math.max(x1, x); }
    }
  }
  if (y1 < 0) throw new Error("no digit found: the image is blank (no ink)");
  const cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const crop = new Float64Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = ink[(y + y0) * w + x + x0];
  const scale = (SUB * BOX - (SUB - 1)) / Math.max(ch, cw);  // long side: 77 fine pixels
  const dw = Math.max(1, Math.round(cw * scale)), dh = Math.max(1, Math.round(ch * scale));
  const digit = resize(crop, cw, ch, dw, dh).map((v) => Math.min(1, Math.max(0, v)));
  // Stroke cores at ~1.0 like MNIST: a gain of at most 2 so ~40 % of the ink reaches 1.0.
  const first = place(digit, dw, dh), peak = maxOf(first);
  const lit = first.filter((v) => v / peak > 0.05).map((v) => v / peak);
  const gain = 1 / (peak * Math.max(percentile(lit, 60), 0.5));
  const out = place(digit.map((v) => Math.min(1, v * gain)), dw, dh);
  const top = maxOf(out);
  return Array.from(out, (v) => Math.min(1, Math.max(0, v / top)));
}

// Levels of a drawing: black strokes on white -> bright ink in [0, 1], as to_mnist's threshold
// step levels them (the stroke core at 1, the faintest anti-aliased quarter dropped).
function drawing(rgba, w, h) {
  const ink = new Float64Array(w * h);
  for (let i = 0; i < ink.length; i++) {
    const v = 1 - rgba[4 * i] / 255;
    ink[i] = Math.min(1, Math.max(0, (v - 0.25) / 0.75));
  }
  return normalise(ink, w, h);
}

// Otsu's threshold of values in [0, 1] (256 bins): the level that best splits two classes.
function otsu(values) {
  const hist = new Float64Array(256);
  for (const v of values) hist[Math.min(255, Math.max(0, Math.round(v * 255)))]++;
  const total = values.length;
  let sum = 0; for (let i = 0; i < 256; i++) sum += i * hist[i];
  let wB = 0, sumB = 0, best = 0, level = 128;
  for (let t = 0; t < 256; t++) {
    wB += hist[t]; if (wB === 0) continue;
    const wF = total - wB; if (wF === 0) break;
    sumB += t * hist[t];
    const mB = sumB / wB, mF = (sum - sumB) / wF, between = wB * wF * (mB - mF) ** 2;
    if (between > best) { best = between; level = t; }
  }
  return (level + 0.5) / 255;
}

// A simple photo pipeline for a clean picture of one digit: grey levels, the polarity from the
// larger tail around the median (the paper is the majority of the pixels), the ink above that
// background, Otsu's threshold, the largest ink blob and the blobs at least a tenth its size,
// then normalise(). Shadows, ruled lines, boxes and clutter are not handled (cnn predict does).
function photo(rgba, w, h) {
  const gray = new Float64Array(w * h);
  for (let i = 0; i < gray.length; i++) {
    const a = rgba[4 * i + 3] / 255;  // transparent pixels read as white paper
    const lum = (0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2]) / 255;
    gray[i] = a * lum + (1 - a);
  }
  const median = percentile(gray, 50);
  let dark = 0, bright = 0;
  for (const v of gray) { if (v < median - 0.15) dark++; else if (v > median + 0.15) bright++; }
  const sign = dark >= bright ? -1 : 1;
  const ink = gray.map((v) => Math.max(0, sign * (v - median)));
  const peak = maxOf(ink);
  if (peak < 0.08) throw new Error("no digit found: the image is blank (no ink)");
  for (let i = 0; i < ink.length; i++) ink[i] /= peak;
  const thresh = otsu(ink);
  // connected blobs of ink above the threshold (8-neighbour flood fill)
  const label = new Int32Array(w * h).fill(-1), sizes = [];
  for (let start = 0; start < ink.length; start++) {
    if (ink[start] <= thresh || label[start] >= 0) continue;
    const id = sizes.length, stack = [start];
    label[start] = id;
    let n = 0;
    while (stack.length) {
      const p = stack.pop(), y = Math.floor(p / w), x = p % w;
      n++;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const yy = y + dy, xx = x + dx, q = yy * w + xx;
          if (yy < 0 || yy >= h || xx < 0 || xx >= w || label[q] >= 0 || ink[q] <= thresh) continue;
          label[q] = id;
          stack.push(q);
        }
      }
    }
    sizes.push(n);
  }
  const largest = maxOf(sizes);
  const keep = sizes.map((n) => n >= Math.max(0.1 * largest, 4));
  // the kept blobs, grown by 2 px for their anti-aliased edges; levelled as _normalise does
  const out = new Float64Array(w * h), onInk = [];
  for (let i = 0; i < ink.length; i++) if (label[i] >= 0 && keep[label[i]]) onInk.push(ink[i]);
  if (!onInk.length) throw new Error("no digit found: only specks of ink, no stroke");
  const level = percentile(onInk, 75), floor = 0.5 * thresh;
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let near = false;
      for (let dy = -2; dy <= 2 && !near; dy++) {
        for (let dx = -2; dx <= 2 && !near; dx++) {
          const yy = y + dy, xx = x + dx;
          if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
            const l = label[yy * w + xx];
            near = l >= 0 && keep[l];
          }
        }
      }
      if (near) out[y * w + x] = Math.min(1, Math.max(0, (ink[y * w + x] - floor) / Math.max(level - floor, 1e-6)));
    }
  }
  return normalise(out, w, h);
}

window.cnn.preprocess = { drawing, photo, normalise };

// ================================================================ the page
const STROKE = 20;  // px on the 280 px canvas: a 200 px digit gets MNIST's stroke ratio
const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d", { willReadFrequently: true });
const state = {
  strokes: [],       // each a list of [x, y] in canvas pixels
  current: null,     // the stroke being drawn
  revision: 0,       // bumped on every change of the drawing
  source: "canvas",  // what the shown result is for: "canvas" or "photo"
  timer: null,
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

// A change of the drawing: read it again at once (a stroke ended) or on the next frame
// (while drawing; the network takes a few milliseconds).
function changed(now) {
  state.revision += 1;
  pad.dataset.revision = String(state.revision);
  state.source = "canvas";
  clearTimeout(state.timer);
  if (state.strokes.length === 0) { showEmpty(); return; }
  if (now) readCanvas(); else state.timer = setTimeout(readCanvas, 16);
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

// ---------------------------------------------------------------- reading
function readCanvas() {
  if (!state.strokes.length) return;
  const img = ctx.getImageData(0, 0, pad.width, pad.height);
  run(() => drawing(img.data, pad.width, pad.height), state.revision, "canvas", "your drawing");
}

function run(prepare, revision, source, name) {
  let pixels, answer;
  try {
    pixels = prepare();
    answer = window.cnn.forward(pixels, true);
  } catch (err) {
    showError(err.message, revision);
    return;
  }
  show(answer, pixels, revision, source, name);
}

// ---------------------------------------------------------------- showing the answer
const bars = [];
for (let d = 0; d < 10; d++) {
  const li = document.createElement("li");
  li.innerHTML = `<span>${d}</span><span class="bar"><span></span></span><span class="p">0%</span>`;
  $("bars").appendChild(li);
  bars.push(li);
}

function pct(p) { return (100 * p).toFixed(p >= 0.9995 || p < 0.0005 ? 0 : 1) + "%"; }

function setBar(li, p, top) {
  li.querySelector(".bar span").style.width = (100 * p).toFixed(1) + "%";
  li.querySelector(".p").textContent = pct(p);
  li.classList.toggle("top", top);
  li.setAttribute("aria-label", `${li.firstChild.textContent}: ${pct(p)}`);
}

function showEmpty() {
  const result = $("result");
  result.dataset.state = "empty";
  result.dataset.revision = String(state.revision);
  $("digit").textContent = "?";
  $("confidence").textContent = "draw a digit";
  $("unsure").hidden = true;
  $("error").hidden = true;
  for (const li of bars) setBar(li, 0, false);
  $("input28").getContext("2d").clearRect(0, 0, 28, 28);
  $("maps").replaceChildren();
  delete $("maps").dataset.key;
}

function showError(message, revision) {
  const result = $("result");
  result.dataset.state = "error";
  result.dataset.revision = String(revision);
  $("error").textContent = message;
  $("error").hidden = false;
  $("digit").textContent = "?";
  $("confidence").textContent = "";
  $("unsure").hidden = true;
}

function show(answer, pixels, revision, source, name) {
  const probs = answer.probabilities;
  const digit = probs.indexOf(Math.max(...probs));
  const result = $("result");
  result.dataset.revision = String(revision);
  result.dataset.state = "done";
  $("error").hidden = true;
  $("digit").textContent = String(digit);
  $("confidence").textContent = `${pct(probs[digit])} sure (${name})`;
  $("unsure").hidden = probs[digit] >= 0.5;  // cnn predict's --min-confidence default
  probs.forEach((p, d) => setBar(bars[d], p, d === digit));
  drawInput($("input28"), pixels);
  if (source === "photo") drawInput($("photo28"), pixels);
  drawMaps(answer.maps);
}

function drawInput(canvas, pixels) {
  const c = canvas.getContext("2d");
  const img = c.createImageData(28, 28);
  pixels.forEach((p, i) => {
    const v = Math.round(255 * p);
    img.data[4 * i] = v; img.data[4 * i + 1] = v; img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  });
  c.putImageData(img, 0, 0);
}

// One tile per channel, each token's maps scaled to 0..255 together as cnn serve does
// (cnn.server.app.encode_maps: offset = min(0, min), scale = max - offset).
function drawMaps(maps) {
  const root = $("maps");
  const key = maps.map((t) => `${t.label}:${t.channels}x${t.height}x${t.width}`).join("|");
  if (root.dataset.key !== key) {
    root.replaceChildren();
    root.dataset.key = key;
    maps.forEach((t, i) => {
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
  maps.forEach((t, i) => {
    let lo = 0, hi = -Infinity;
    for (const v of t.data) { if (v < lo) lo = v; if (v > hi) hi = v; }
    const scale = hi - lo, plane = t.height * t.width, C = t.channels;
    sections[i].querySelectorAll("canvas").forEach((tile, c) => {
      const g = tile.getContext("2d");
      const img = g.createImageData(t.width, t.height);
      for (let k = 0; k < plane; k++) {
        const v = scale > 0 ? Math.round((t.data[k * C + c] - lo) * 255 / scale) : 0;
        img.data[4 * k] = v; img.data[4 * k + 1] = v; img.data[4 * k + 2] = v; img.data[4 * k + 3] = 255;
      }
      g.putImageData(img, 0, 0);
    });
  });
}

// ---------------------------------------------------------------- photos
const PHOTO_SIDE = 400;  // long side the photo is read at, pixels

async function usePhoto(file) {
  if (!file) return;
  state.source = "photo";
  const revision = state.revision;
  const preview = $("photo-preview");
  if (preview.src) URL.revokeObjectURL(preview.src);
  preview.src = URL.createObjectURL(file);
  preview.alt = `the photo ${file.name}`;
  preview.parentElement.hidden = false;
  $("result").dataset.state = "pending";
  let bitmap;
  try {
    bitmap = await createImageBitmap(file);
  } catch (err) {
    showError(`cannot read image '${file.name}': not an image the browser can decode`, revision);
    return;
  }
  const f = Math.min(1, PHOTO_SIDE / Math.max(bitmap.width, bitmap.height));
  const w = Math.max(1, Math.round(bitmap.width * f)), h = Math.max(1, Math.round(bitmap.height * f));
  const canvas = document.createElement("canvas");
  canvas.width = w;
  canvas.height = h;
  const g = canvas.getContext("2d", { willReadFrequently: true });
  g.imageSmoothingQuality = "high";
  g.drawImage(bitmap, 0, 0, w, h);
  const data = g.getImageData(0, 0, w, h).data;
  run(() => photo(data, w, h), revision, "photo", file.name);
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

// ---------------------------------------------------------------- the model
function describeModel() {
  const h = window.cnn.header;
  $("model").textContent = h.model;
  const acc = h.accuracy == null ? "accuracy not recorded" : `${(100 * h.accuracy).toFixed(2)}% test accuracy`;
  $("model-info").textContent = `(${acc}${h.source ? ", " + h.source : ""})`;
}

paint();
showEmpty();
try {
  describeModel();
} catch (err) {
  showError(err.message, 0);
}
