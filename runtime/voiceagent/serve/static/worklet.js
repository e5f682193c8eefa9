// AudioWorklet processors of the voiceagent call page (no build step).
// "mic-capture": microphone (context rate) -> 16 kHz PCM16 frames of 20 ms, posted to the page.
// "agent-player": 16 kHz agent audio -> context rate, played gapless from a queue; "flush" drops
// the queue at once (barge-in); reports how much agent audio (16 kHz samples) has been played.
const WIRE_RATE = 16000;
const FRAME = WIRE_RATE / 50; // 20 ms

class MicCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.step = sampleRate / WIRE_RATE; // input samples per output sample
    this.pos = 0; // fractional read position into the pending input
    this.pending = new Float32Array(0);
    this.out = new Int16Array(FRAME);
    this.n = 0;
  }
  process(inputs) {
    const input = inputs[0] && inputs[0][0];
    if (!input) return true;
    const buf = new Float32Array(this.pending.length + input.length);
    buf.set(this.pending); buf.set(input, this.pending.length);
    let pos = this.pos;
    while (pos + 1 < buf.length) {
      const i = Math.floor(pos), f = pos - i;
      const s = buf[i] * (1 - f) + buf[i + 1] * f;
      this.out[this.n++] = Math.max(-32768, Math.min(32767, Math.round(s * 32767)));
      if (this.n === FRAME) { this.port.postMessage(this.out.buffer, [this.out.buffer]); this.out = new Int16Array(FRAME); this.n = 0; }
      pos += this.step;
    }
    const keep = Math.floor(pos);
    this.pending = buf.slice(keep);
    this.pos = pos - keep;
    return true;
  }
}

class AgentPlayer extends AudioWorkletProcessor {
  constructor() {
    super();
    this.ratio = WIRE_RATE / sampleRate; // wire samples per output sample
    this.queue = []; // Float32Array chunks at the wire rate
    this.offset = 0; // fractional read position in queue[0]
    this.played = 0; // wire samples played (not counting silence)
    this.quanta = 0;
    this.port.onmessage = (e) => {
      const m = e.data;
      if (m.type === 'audio') this.queue.push(m.samples);
      else if (m.type === 'flush') {
        const dropped = this.queue.reduce((n, c) => n + c.length, 0) - Math.floor(this.offset);
        this.queue = []; this.offset = 0;
        this.port.postMessage({ played: this.played, flushed: true, dropped });
      }
    };
  }
  process(_inputs, outputs) {
    const out = outputs[0][0];
    let before = this.played;
    for (let k = 0; k < out.length; k++) {
      if (!this.queue.length) { out[k] = 0; continue; }
      const chunk = this.queue[0];
      const i = Math.floor(this.offset), f = this.offset - i;
      const a = chunk[i], b = i + 1 < chunk.length ? chunk[i + 1] : (this.queue[1] ? this.queue[1][0] : a);
      out[k] = a * (1 - f) + b * f;
      this.offset += this.ratio;
      if (this.offset >= chunk.length) { this.played += chunk.length; this.offset -= chunk.length; this.queue.shift(); }
    }
    for (let c = 1; c < outputs[0].length; c++) outputs[0][c].set(out);
    const partial = this.queue.length ? Math.floor(this.offset) : 0;
    if (++this.quanta % 4 === 0 || this.played !== before) this.port.postMessage({ played: this.played + partial, idle: !this.queue.length });
    return true;
  }
}

registerProcessor('mic-capture', MicCapture);
registerProcessor('agent-player', AgentPlayer);
