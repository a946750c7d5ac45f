// cnn.js: the forward pass of a cnn network in the browser, eval mode. Plain JavaScript on
// Float32Array, no library, no build step. It mirrors the NumPy engine (cnn/layers.py,
// cnn/blocks.py, cnn/im2col.py) layer by layer, channels last as the engine is: an image is
// {h, w, c, data} with data[(y * w + x) * c + channel]. Each layer function names the NumPy
// function it mirrors. The weights come from weights.js (window.CNN_WEIGHTS, written by
// `cnn export --web`): a JSON header and float32 values in the engine's own layouts.
//
// API (window.cnn):
//   cnn.predict(pixels)  -> 10 probabilities (an Array); pixels: 784 numbers in [0, 1],
//                           row-major 28 x 28, white digit on black (MNIST layout)
//   cnn.forward(pixels)  -> {logits, probabilities, maps}; maps: the activation map of every
//                           convolution / pooling / residual token, as `cnn serve` shows them
//   cnn.header           -> the model string, its tokens and their labels
"use strict";

(function (global) {
  // ------------------------------------------------------------------ weights
  function decodeWeights(b64) {
    const s = atob(b64);
    const bytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
    const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
    if (littleEndian) return new Float32Array(bytes.buffer);
    const view = new DataView(bytes.buffer);  // a big-endian machine: read value by value
    const out = new Float32Array(bytes.length / 4);
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(4 * i, true);
    return out;
  }

  function tensor(h, w, c, data) { return { h, w, c, data: data || new Float32Array(h * w * c) }; }

  // ------------------------------------------------------------------ layers
  // cnn.layers.zero_pad (numpy.pad with zeros on H and W).
  function zeroPad(x, p) {
    if (p === 0) return x;
    const out = tensor(x.h + 2 * p, x.w + 2 * p, x.c);
    const row = x.w * x.c;
    for (let y = 0; y < x.h; y++) {
      out.data.set(x.data.subarray(y * row, (y + 1) * row), ((y + p) * out.w + p) * x.c);
    }
    return out;
  }

  // cnn.im2col.im2col: cols[(i * W_out + j), (p * k + q) * C + c] = x[s*i + p, s*j + q, c].
  // For a fixed row p of the window the k * C values are contiguous in x: one copy each.
  function im2col(x, k, s, hOut, wOut) {
    const C = x.c, K = k * k * C, span = k * C;
    const cols = new Float32Array(hOut * wOut * K);
    const src = x.data;
    let o = 0;
    for (let i = 0; i < hOut; i++) {
      for (let j = 0; j < wOut; j++) {
        for (let p = 0; p < k; p++) {
          const a = ((s * i + p) * x.w + s * j) * C;
          for (let t = 0; t < span; t++) cols[o++] = src[a + t];
        }
      }
    }
    return cols;
  }

  // The GEMM of Conv2D.forward, out (rows, F) = cols (rows, K) @ W (K, F) + b, computed as
  // dot products with W transposed, Wt (F, K), two rows by four filters at a time, so eight
  // sums stay in registers while each value read is used four or two times. Sums in float64
  // (JavaScript numbers), rounded to float32 once: NumPy's float32 BLAS sums, more exactly.
  function gemm(cols, rows, K, Wt, F, b, out) {
    const F4 = F - (F % 4);
    let r = 0;
    for (; r + 1 < rows; r += 2) {
      const a0 = r * K, a1 = a0 + K, o0 = r * F, o1 = o0 + F;
      let f = 0;
      for (; f < F4; f += 4) {
        const w0 = f * K, w1 = w0 + K, w2 = w1 + K, w3 = w2 + K;
        let s00 = 0, s01 = 0, s02 = 0, s03 = 0, s10 = 0, s11 = 0, s12 = 0, s13 = 0;
        for (let t = 0; t < K; t++) {
          const x0 = cols[a0 + t], x1 = cols[a1 + t];
          const v0 = Wt[w0 + t], v1 = Wt[w1 + t], v2 = Wt[w2 + t], v3 = Wt[w3 + t];
          s00 += x0 * v0; s01 += x0 * v1; s02 += x0 * v2; s03 += x0 * v3;
          s10 += x1 * v0; s11 += x1 * v1; s12 += x1 * v2; s13 += x1 * v3;
        }
        const b0 = b ? b[f] : 0, b1 = b ? b[f + 1] : 0, b2 = b ? b[f + 2] : 0, b3 = b ? b[f + 3] : 0;
        out[o0 + f] = s00 + b0; out[o0 + f + 1] = s01 + b1; out[o0 + f + 2] = s02 + b2; out[o0 + f + 3] = s03 + b3;
        out[o1 + f] = s10 + b0; out[o1 + f + 1] = s11 + b1; out[o1 + f + 2] = s12 + b2; out[o1 + f + 3] = s13 + b3;
      }
      for (; f < F; f++) {
        let s0 = 0, s1 = 0;
        for (let t = 0; t < K; t++) { s0 += cols[a0 + t] * Wt[f * K + t]; s1 += cols[a1 + t] * Wt[f * K + t]; }
        out[o0 + f] = s0 + (b ? b[f] : 0);
        out[o1 + f] = s1 + (b ? b[f] : 0);
      }
    }
    for (; r < rows; r++) {  // an odd last row
      for (let f = 0; f < F; f++) {
        let s0 = 0;
        for (let t = 0; t < K; t++) s0 += cols[r * K + t] * Wt[f * K + t];
        out[r * F + f] = s0 + (b ? b[f] : 0);
      }
    }
  }

  // cnn.layers.Conv2D.forward: out = im2col(pad(x), k, s) @ W.reshape(k*k*C, F) + b, one GEMM.
  function conv2d(x, layer, arr) {
    const k = layer.kernel, s = layer.stride, F = layer.out;
    const xp = zeroPad(x, layer.padding);
    const hOut = Math.floor((xp.h - k) / s) + 1, wOut = Math.floor((xp.w - k) / s) + 1;
    const cols = im2col(xp, k, s, hOut, wOut);
    const K = k * k * x.c;
    const Wt = transposed(layer, arr(layer.weight), K, F);
    const out = tensor(hOut, wOut, F);
    gemm(cols, hOut * wOut, K, Wt, F, layer.bias ? arr(layer.bias) : null, out.data);
    return out;
  }

  // W (K, F) -> Wt (F, K), made once per layer and kept.
  const transposes = new WeakMap();
  function transposed(layer, W, K, F) {
    let Wt = transposes.get(layer);
    if (!Wt) {
      Wt = new Float32Array(K * F);
      for (let t = 0; t < K; t++) for (let f = 0; f < F; f++) Wt[f * K + t] = W[t * F + f];
      transposes.set(layer, Wt);
    }
    return Wt;
  }

  // cnn.layers.BatchNorm.forward, eval mode: x * scale + shift per channel, where
  // scale = gamma / sqrt(running_var + eps) and shift = beta - running_mean * scale were
  // computed in float32 by `cnn export --web` exactly as the NumPy layer computes them.
  function batchNorm(x, layer, arr) {
    const scale = arr(layer.scale), shift = arr(layer.shift), C = x.c;
    const out = tensor(x.h, x.w, C);
    for (let i = 0; i < x.data.length; i++) {
      const c = i % C;
      out.data[i] = x.data[i] * scale[c] + shift[c];
    }
    return out;
  }

  // cnn.layers.ReLU.forward: max(x, 0).
  function relu(x) {
    const out = tensor(x.h, x.w, x.c);
    for (let i = 0; i < x.data.length; i++) out.data[i] = x.data[i] > 0 ? x.data[i] : 0;
    return out;
  }

  // cnn.layers.MaxPool2D.forward: k x k windows, stride k, ceil mode (a partial window at the
  // right/bottom edge takes the max of the pixels it covers); output ceil(H / k) x ceil(W / k).
  // cnn.layers.AvgPool2D.forward (average = true): the mean of the pixels each window covers.
  function pool(x, k, average) {
    const hOut = Math.ceil(x.h / k), wOut = Math.ceil(x.w / k), C = x.c;
    const out = tensor(hOut, wOut, C);
    for (let i = 0; i < hOut; i++) {
      for (let j = 0; j < wOut; j++) {
        const y1 = Math.min(x.h, (i + 1) * k), x1 = Math.min(x.w, (j + 1) * k);
        for (let c = 0; c < C; c++) {
          let best = -Infinity, sum = 0;
          for (let y = i * k; y < y1; y++) {
            for (let xx = j * k; xx < x1; xx++) {
              const v = x.data[(y * x.w + xx) * C + c];
              if (v > best) best = v;
              sum += v;
            }
          }
          out.data[(i * wOut + j) * C + c] = average ? sum / ((y1 - i * k) * (x1 - j * k)) : best;
        }
      }
    }
    return out;
  }

  // cnn.layers.GlobalAvgPool.forward: the mean of each channel over all positions -> (C,).
  function globalAvgPool(x) {
    const C = x.c, n = x.h * x.w;
    const sums = new Float64Array(C);
    for (let i = 0; i < n; i++) for (let c = 0; c < C; c++) sums[c] += x.data[i * C + c];
    const out = tensor(1, 1, C);
    for (let c = 0; c < C; c++) out.data[c] = sums[c] / n;
    return out;
  }

  // cnn.layers.Dense.forward: out = flatten(x) @ W + b, W (D, U), inputs in H, W, C order.
  function dense(x, layer, arr) {
    const W = arr(layer.weight), b = arr(layer.bias), D = layer.in, U = layer.out;
    if (x.data.length !== D) throw new Error(`dense layer expects ${D} inputs, got ${x.data.length}`);
    const acc = new Float64Array(U);
    for (let u = 0; u < U; u++) acc[u] = b[u];
    for (let d = 0; d < D; d++) {
      const a = x.data[d];
      if (a === 0) continue;
      const row = d * U;
      for (let u = 0; u < U; u++) acc[u] += a * W[row + u];
    }
    return tensor(1, 1, U, Float32Array.from(acc));
  }

  // elementwise x + y (the residual sum, `h += shortcut` in cnn.blocks.ResidualBlock.run).
  function add(x, y) {
    const out = tensor(x.h, x.w, x.c);
    for (let i = 0; i < x.data.length; i++) out.data[i] = x.data[i] + y.data[i];
    return out;
  }

  // One primitive layer by its header type (cnn.layers; dropout is the identity in eval mode).
  function layerForward(x, layer, arr) {
    switch (layer.type) {
      case "conv": return conv2d(x, layer, arr);
      case "bn": return batchNorm(x, layer, arr);
      case "relu": return relu(x);
      case "maxpool": return pool(x, layer.size, false);
      case "avgpool": return pool(x, layer.size, true);
      case "gap": return globalAvgPool(x);
      case "dense": return dense(x, layer, arr);
      case "identity": return x;
      default: throw new Error(`unknown layer type ${layer.type}`);
    }
  }

  // ------------------------------------------------------------------ tokens (cnn.blocks)
  // cnn.blocks.Block.run: the token's layers in order; returns what the next token receives.
  function sequenceForward(x, token, arr) {
    for (const layer of token.layers) x = layerForward(x, layer, arr);
    return x;
  }

  // cnn.blocks.ResidualBlock.run: pre = bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x),
  // shortcut = proj_bn(proj(x)) when the shape changes, else x; out = relu(pre).
  function residualForward(x, token, arr) {
    const L = {};
    for (const layer of token.layers) L[layer.name] = layer;
    let h = batchNorm(conv2d(x, L.conv1, arr), L.bn1, arr);
    h = batchNorm(conv2d(relu(h), L.conv2, arr), L.bn2, arr);
    const shortcut = L.proj ? batchNorm(conv2d(x, L.proj, arr), L.proj_bn, arr) : x;
    return relu(add(h, shortcut));
  }

  // ------------------------------------------------------------------ the network
  // cnn.losses.softmax: max-shifted, so no exp overflows.
  function softmax(logits) {
    const m = Math.max(...logits);
    const e = logits.map((v) => Math.exp(v - m));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / total);
  }

  class Network {
    constructor(weights) {
      this.header = weights.header;
      this.values = decodeWeights(weights.data);
      if (this.values.length !== this.header.values) {
        throw new Error(`weights.js holds ${this.values.length} values, its header says ${this.header.values}`);
      }
      const cache = new Map();  // [offset, length] -> a view, made once
      this.arr = (ref) => {
        const key = ref[0];
        if (!cache.has(key)) cache.set(key, this.values.subarray(ref[0], ref[0] + ref[1]));
        return cache.get(key);
      };
    }

    // cnn.model.to_input: pixels -> a float32 (H, W, C) image; refuses the wrong size.
    input(pixels) {
      const [h, w, c] = this.header.input;
      if (!pixels || pixels.length !== h * w * c) {
        throw new Error(`cnn.predict expects ${h * w * c} pixels (${h} x ${w}, row-major, in [0, 1]), got ${pixels ? pixels.length : pixels}`);
      }
      const x = tensor(h, w, c, Float32Array.from(pixels));
      for (const v of x.data) {
        if (!Number.isFinite(v)) throw new Error("cnn.predict: every pixel must be a finite number in [0, 1]");
      }
      return x;
    }

    // cnn.model.Sequential.forward, with the `out` tap of every spatial token when maps is
    // true (cnn.server.activations.activation_maps).
    forward(pixels, maps = false) {
      let x = this.input(pixels);
      const shown = [];
      for (const token of this.header.tokens) {
        x = token.type === "residual" ? residualForward(x, token, this.arr)
          : sequenceForward(x, token, this.arr);
        if (maps && token.map) {
          // a convolution whose ReLU the next max pooling applies: its `out` is ReLU(pre)
          const out = token.relu_deferred ? relu(x) : x;
          shown.push({ label: token.label, height: out.h, width: out.w, channels: out.c, data: out.data });
        }
      }
      const logits = Array.from(x.data);
      return { logits, probabilities: softmax(logits), maps: shown };
    }

    predict(pixels) { return this.forward(pixels, false).probabilities; }
  }

  let network = null;
  function get() {
    if (!network) {
      if (!global.CNN_WEIGHTS) throw new Error("weights.js is not loaded: it must come before cnn.js");
      network = new Network(global.CNN_WEIGHTS);
    }
    return network;
  }

  global.cnn = {
    predict: (pixels) => get().predict(pixels),
    forward: (pixels, maps = true) => get().forward(pixels, maps),
    get header() { return get().header; },
    Network,
  };
})(typeof window !== "undefined" ? window : globalThis);
