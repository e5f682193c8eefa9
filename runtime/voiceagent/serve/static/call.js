// The voiceagent browser call page: microphone -> /ws/{agent} -> agent audio and a live view.
// Protocol: docs/websocket-protocol.md. No build step, no dependencies.
(() => {
  'use strict';
  const cfg = window.VOICEAGENT || {};
  const RATE = 16000;
  const $ = (sel) => document.querySelector(sel);
  const callBtn = $('[data-action="call"]');
  const hangBtn = $('[data-action="hangup"]');
  const statusEl = $('#status');
  const transcript = $('#transcript');
  let ws = null, ctx = null, mic = null, micNode = null, player = null;
  let enqueued = 0, played = 0, marks = [], streamId = null, lastAgent = null;

  const setStatus = (s) => { statusEl.textContent = s; document.body.dataset.status = s; };
  const b64 = {
    encode(buf) { let s = ''; const u = new Uint8Array(buf); for (let i = 0; i < u.length; i += 0x8000) s += String.fromCharCode.apply(null, u.subarray(i, i + 0x8000)); return btoa(s); },
    decode(str) { const s = atob(str); const u = new Uint8Array(s.length); for (let i = 0; i < s.length; i++) u[i] = s.charCodeAt(i); return u.buffer; },
  };
  const send = (m) => { if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(m)); };

  function line(role, text, extra) {
    const li = document.createElement('li');
    li.className = role + (extra ? ' ' + extra : '');
    li.dataset.role = role;
    li.textContent = text;
    transcript.appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  }
  function listItem(sel, text) { const li = document.createElement('li'); li.textContent = text; $(sel).appendChild(li); }

  function onCallEvent(e) {
    switch (e.type) {
      case 'user.transcript': line('caller', e.text || ''); lastAgent = null; break;
      case 'agent.interrupted': if (lastAgent) lastAgent.classList.add('interrupted'); line('system', 'interrupted'); break;
      case 'state.enter': $('#state').textContent = e.state; break;
      case 'verification': $('#verification').textContent = String(e.level); break;
      case 'tool.call': listItem('#tools', `→ ${e.name}(${JSON.stringify(e.arguments)})`); break;
      case 'tool.result': listItem('#tools', `← ${e.name}: ${JSON.stringify(e.ok ? e.result : { error: e.error })}`); break;
      case 'turn.metrics':
        if (e.eou_to_first_audio_ms != null) {
          const ms = Math.round(e.eou_to_first_audio_ms);
          $('#latency').textContent = ms + ' ms';
          listItem('#latencies', `turn ${e.turn}: ${ms} ms`);
        }
        break;
      case 'call.transfer': line('system', 'transferring to ' + (e.to || 'a person')); break;
      case 'server.goodbye': line('agent', e.text); break;
      case 'session.end': line('system', 'call ended: ' + e.reason); break;
      default: break;
    }
  }

  function onPlayed(m) {
    played = m.played;
    if (m.flushed) {
      enqueued = played;
      // for tests and curious people: how many barge-in flushes, and the agent audio they dropped (ms)
      const d = document.body.dataset;
      d.flushes = String((+d.flushes || 0) + 1);
      d.droppedMs = String((+d.droppedMs || 0) + Math.round((1000 * m.dropped) / RATE));
    }
    while (marks.length && marks[0].at <= played) send({ event: 'mark', stream_id: streamId, mark: { name: marks.shift().name } });
  }

  function onMessage(ev) {
    let m; try { m = JSON.parse(ev.data); } catch (_) { return; }
    if (m.stream_id) streamId = m.stream_id;
    switch (m.event) {
      case 'ready': $('#callid').textContent = m.call_id; setStatus('in call'); break;
      case 'media': {
        const pcm = new Int16Array(b64.decode(m.media.payload));
        const f = new Float32Array(pcm.length);
        for (let i = 0; i < pcm.length; i++) f[i] = pcm[i] / 32768;
        enqueued += f.length;
        player.port.postMessage({ type: 'audio', samples: f }, [f.buffer]);
        break;
      }
      case 'mark': marks.push({ name: m.mark.name, at: enqueued }); break;
      case 'clear': marks = []; player.port.postMessage({ type: 'flush' }); break;
      case 'transcript': if (m.transcript.role === 'agent') lastAgent = line('agent', m.transcript.text); break;
      case 'call': onCallEvent(m.call); break;
      case 'end': setStatus('ended: ' + m.reason); break;
      default: break;
    }
  }

  async function start() {
    callBtn.disabled = true;
    setStatus('connecting');
    try {
      ctx = new AudioContext();
      await ctx.audioWorklet.addModule('/static/worklet.js');
      mic = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true } });
      player = new AudioWorkletNode(ctx, 'agent-player', { outputChannelCount: [1] });
      player.connect(ctx.destination);
      player.port.onmessage = (e) => onPlayed(e.data);
      micNode = new AudioWorkletNode(ctx, 'mic-capture');
      ctx.createMediaStreamSource(mic).connect(micNode);
      await ctx.resume();
    } catch (err) {
      setStatus('microphone unavailable: ' + err.message);
      callBtn.disabled = false;
      return;
    }
    const token = new URLSearchParams(location.search).get('token');
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws/${encodeURIComponent(cfg.agent)}` + (token ? `?token=${encodeURIComponent(token)}` : ''));
    ws.onopen = () => {
      send({ event: 'start', start: { sample_rate: RATE } });
      micNode.port.onmessage = (e) => send({ event: 'media', stream_id: streamId, media: { payload: b64.encode(e.data) } });
      hangBtn.disabled = false;
    };
    ws.onmessage = onMessage;
    ws.onclose = (e) => { if (e.code === 1013) setStatus('busy: try again later'); else if (e.code === 1008) setStatus('refused: ' + (e.reason || 'policy')); else if (!statusEl.textContent.startsWith('ended')) setStatus('ended'); teardown(); };
  }

  function teardown() {
    if (micNode) micNode.port.onmessage = null;
    if (mic) mic.getTracks().forEach((t) => t.stop());
    if (ctx) ctx.close().catch(() => {});
    ws = ctx = mic = micNode = player = null;
    marks = []; enqueued = played = 0;
    hangBtn.disabled = true;
    callBtn.disabled = false;
  }

  function hangup() {
    if (!ws) return;
    send({ event: 'stop', stream_id: streamId });
    setStatus('ended: hung up');
    const sock = ws;
    setTimeout(() => { try { sock.close(1000); } catch (_) { /* already closed */ } }, 200);
    hangBtn.disabled = true;
  }

  callBtn.addEventListener('click', start);
  hangBtn.addEventListener('click', hangup);
  if (new URLSearchParams(location.search).get('autostart') === '1') start();
})();
