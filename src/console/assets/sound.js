// A short two-tone alarm made with WebAudio, so the console ships no audio file.
// Browsers only let a page make sound after a user gesture: unlock() is called from the
// login click and from any click afterwards.
'use strict';
(function () {
  let ctx = null;
  let lastAt = 0;
  const S = {
    muted: localStorage.getItem('vigil.muted') === '1',
    // How many alarms asked for a sound, and how many were actually played (tests read these).
    requested: 0,
    played: 0,
    unlock() {
      try {
        const AC = window.AudioContext || window.webkitAudioContext;
        if (!AC) return;
        if (!ctx) ctx = new AC();
        if (ctx.state === 'suspended') ctx.resume();
      } catch (e) {
        ctx = null;
      }
    },
    setMuted(m) {
      S.muted = !!m;
      localStorage.setItem('vigil.muted', S.muted ? '1' : '0');
    },
    play() {
      S.requested += 1;
      if (S.muted || !ctx) return false;
      // Several alarms in one burst make one sound, not a cacophony.
      const now = ctx.currentTime;
      if (now - lastAt < 1.2 && S.played > 0) return false;
      lastAt = now;
      const gain = ctx.createGain();
      gain.connect(ctx.destination);
      gain.gain.setValueAtTime(0.0001, now);
      // Three hi-lo pulses, ~0.9 s in all: easy to tell from a phone ring.
      for (let i = 0; i < 3; i++) {
        const t0 = now + i * 0.3;
        const osc = ctx.createOscillator();
        osc.type = 'square';
        osc.frequency.setValueAtTime(880, t0);
        osc.frequency.setValueAtTime(660, t0 + 0.13);
        osc.connect(gain);
        gain.gain.setValueAtTime(0.0001, t0);
        gain.gain.exponentialRampToValueAtTime(0.18, t0 + 0.02);
        gain.gain.setValueAtTime(0.18, t0 + 0.22);
        gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.26);
        osc.start(t0);
        osc.stop(t0 + 0.27);
      }
      S.played += 1;
      document.body.dataset.beeps = String(S.played);
      return true;
    }
  };
  window.VigilSound = S;
})();
