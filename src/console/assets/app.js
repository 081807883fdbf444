// vigil console: one page, no framework, no build step. Talks only to /api/v1 on the same
// origin. Every value from the server is put into the page with textContent, never as HTML.
'use strict';
(function () {
  const API = '/api/v1';
  const $ = (id) => document.getElementById(id);
  const I18N = window.VIGIL_I18N;
  const Sound = window.VigilSound;

  const st = {
    lang: localStorage.getItem('vigil.lang') === 'en' ? 'en' : 'zh',
    session: loadSession(),
    node: { utc_offset_s: -new Date().getTimezoneOffset() * 60, tz: null },
    events: new Map(), // key: String(id) -> event
    nextCursor: null,
    selected: null,
    cameras: [],
    health: new Map(),
    es: null,
    esRetry: 0,
    view: 'alarms',
    camTimer: null,
    loadSeq: 0,
    filters: { camera: '', kind: '', state: '', since: '', until: '' }
  };

  // ---------- i18n ----------
  function t(key, vars) {
    const table = I18N[st.lang] || I18N.zh;
    let s = table[key] !== undefined ? table[key] : I18N.zh[key] !== undefined ? I18N.zh[key] : key;
    if (vars) for (const k of Object.keys(vars)) s = s.split('{' + k + '}').join(String(vars[k]));
    return s;
  }
  function applyI18n() {
    document.documentElement.lang = st.lang === 'zh' ? 'zh-CN' : 'en';
    document.title = t('app_title');
    for (const el of document.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
    for (const el of document.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
    $('d-note').placeholder = t('note_placeholder');
    renderMute();
    renderWho();
    renderClock();
    renderList();
    if (st.selected) renderDetail(st.events.get(st.selected));
    if (st.view === 'cameras') renderBoard();
    if (st.view === 'accounts') renderUsers();
    renderLive();
  }
  function setLang(l) {
    st.lang = l;
    localStorage.setItem('vigil.lang', l);
    applyI18n();
  }

  // ---------- time in the node's zone ----------
  function offsetLabel(sec) {
    const sign = sec < 0 ? '-' : '+';
    const a = Math.abs(sec);
    const hh = String(Math.floor(a / 3600)).padStart(2, '0');
    const mm = String(Math.floor((a % 3600) / 60)).padStart(2, '0');
    return 'UTC' + sign + hh + ':' + mm;
  }
  function nodeParts(date) {
    // Shift by the node's offset, then read the UTC fields: the node's wall clock.
    const d = new Date(date.getTime() + st.node.utc_offset_s * 1000);
    const p = (n) => String(n).padStart(2, '0');
    return {
      y: d.getUTCFullYear(), mo: p(d.getUTCMonth() + 1), d: p(d.getUTCDate()),
      h: p(d.getUTCHours()), mi: p(d.getUTCMinutes()), s: p(d.getUTCSeconds())
    };
  }
  function fmtTime(date, withDate) {
    if (!date || isNaN(date.getTime())) return '—';
    const x = nodeParts(date);
    const time = x.h + ':' + x.mi + ':' + x.s;
    return withDate === false ? time : x.y + '-' + x.mo + '-' + x.d + ' ' + time;
  }
  function fmtShort(date) {
    if (!date || isNaN(date.getTime())) return '—';
    const x = nodeParts(date);
    const today = nodeParts(new Date());
    const time = x.h + ':' + x.mi + ':' + x.s;
    return x.y === today.y && x.mo === today.mo && x.d === today.d ? time : x.mo + '-' + x.d + ' ' + time;
  }
  // A datetime-local value is read as node wall-clock time.
  function localInputToDate(v) {
    if (!v) return null;
    const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(v);
    if (!m) return null;
    const utc = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    return new Date(utc - st.node.utc_offset_s * 1000);
  }
  function toDate(v) {
    if (v === null || v === undefined || v === '') return null;
    if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
    if (/^\d+(\.\d+)?$/.test(String(v))) return toDate(Number(v));
    const d = new Date(v);
    return isNaN(d.getTime()) ? null : d;
  }
  function eventDate(e) {
    return toDate(e.created_at_ms) || toDate(e.created_at) || toDate(e.received_at_ms) || null;
  }
  function renderClock() {
    const now = new Date();
    const label = offsetLabel(st.node.utc_offset_s);
    $('clock').textContent = fmtTime(now) + ' ' + label;
    $('clock').title = t('tz', { tz: (st.node.tz ? st.node.tz + ' ' : '') + label });
  }

  // ---------- session and API ----------
  function loadSession() {
    try {
      const s = JSON.parse(sessionStorage.getItem('vigil.session') || 'null');
      if (!s || !s.token) return null;
      const exp = toDate(s.expires_at);
      if (exp && exp.getTime() < Date.now()) return null;
      return s;
    } catch (e) {
      return null;
    }
  }
  function saveSession(s) {
    st.session = s;
    if (s) sessionStorage.setItem('vigil.session', JSON.stringify(s));
    else sessionStorage.removeItem('vigil.session');
  }
  const canHandle = () => !!st.session && (st.session.role === 'operator' || st.session.role === 'admin');

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }
  async function api(path, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    if (st.session) headers.Authorization = 'Bearer ' + st.session.token;
    let body;
    if (opts.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    let resp;
    try {
      resp = await fetch(API + path, { method: opts.method || 'GET', headers, body, cache: 'no-store' });
    } catch (e) {
      throw new ApiError(0, t('error_network'));
    }
    let data = null;
    const text = await resp.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (e) {
        data = { message: text.slice(0, 200) };
      }
    }
    if (!resp.ok) {
      const msg = errorText(data) || t('error_http', { status: resp.status });
      if (resp.status === 401 && st.session && !opts.noLogout) {
        logout(t('session_expired'));
      }
      throw new ApiError(resp.status, resp.status === 403 ? t('forbidden') + (msg ? ' — ' + msg : '') : msg);
    }
    return data;
  }
  function errorText(d) {
    if (!d) return '';
    if (typeof d.error === 'string') return d.error;
    if (d.error && typeof d.error.message === 'string') return d.error.message;
    if (typeof d.message === 'string') return d.message;
    return '';
  }
  // EventSource cannot send headers: the stream (and, where the server allows it, evidence
  // URLs) take the token as a query parameter.
  const tokenQ = () => 'access_token=' + encodeURIComponent(st.session ? st.session.token : '');
  const evPath = (id, file) => API + '/events/' + encodeURIComponent(id) + '/' + file;
  const evUrl = (id, file) => evPath(id, file) + '?' + tokenQ();

  // ---------- login ----------
  async function doLogin(ev) {
    ev.preventDefault();
    Sound.unlock();
    const err = $('login-error');
    err.hidden = true;
    $('login-submit').disabled = true;
    try {
      const data = await api('/auth/login', {
        method: 'POST',
        body: { name: $('login-user').value.trim(), password: $('login-pass').value },
        noLogout: true
      });
      if (!data || !data.token) throw new ApiError(500, 'no token');
      saveSession({
        token: data.token,
        role: data.role || 'viewer',
        username: data.user || $('login-user').value.trim(),
        expires_at: data.expires_at_ms || data.expires_at || null
      });
      $('login-pass').value = '';
      start();
    } catch (e) {
      err.textContent = e.status === 401 || e.status === 403 ? t('login_failed') : t('login_error', { msg: e.message });
      err.hidden = false;
    } finally {
      $('login-submit').disabled = false;
    }
  }
  function logout(message) {
    stopStream();
    if (st.camTimer) clearInterval(st.camTimer);
    st.camTimer = null;
    saveSession(null);
    st.events.clear();
    st.selected = null;
    $('main-view').hidden = true;
    $('login-view').hidden = false;
    document.body.dataset.view = 'login';
    const err = $('login-error');
    err.textContent = message || '';
    err.hidden = !message;
    $('login-user').focus();
  }

  // ---------- events: normalise, list, filters ----------
  function norm(raw) {
    // The stream may send the event itself or {phase|type, event}.
    let e = raw && raw.event && typeof raw.event === 'object' ? Object.assign({}, raw.event) : Object.assign({}, raw);
    if (raw && raw.event && raw.state && !e.state) e.state = raw.state;
    if (e.id === undefined || e.id === null) return null;
    if (!e.state) e.state = 'new';
    if (!eventDate(e)) e.received_at_ms = Date.now();
    return e;
  }
  const key = (e) => String(e.id);
  function sortKey(e) {
    const d = eventDate(e);
    return d ? d.getTime() : 0;
  }
  function matches(e) {
    const f = st.filters;
    if (f.camera && e.camera !== f.camera) return false;
    if (f.kind && e.kind !== f.kind) return false;
    if (f.state && e.state !== f.state) return false;
    const d = eventDate(e);
    const since = localInputToDate(f.since);
    const until = localInputToDate(f.until);
    if (d && since && d < since) return false;
    if (d && until && d > until) return false;
    return true;
  }
  function filterQuery() {
    const f = st.filters;
    const q = new URLSearchParams();
    if (f.camera) q.set('camera', f.camera);
    if (f.kind) q.set('kind', f.kind);
    if (f.state) q.set('state', f.state);
    const since = localInputToDate(f.since);
    const until = localInputToDate(f.until);
    // The API takes Unix seconds.
    if (since) q.set('since', String(Math.floor(since.getTime() / 1000)));
    if (until) q.set('until', String(Math.floor(until.getTime() / 1000)));
    q.set('limit', '50');
    return q;
  }
  function eventsOf(data) {
    if (Array.isArray(data)) return { list: data, next: null };
    if (!data) return { list: [], next: null };
    return { list: data.events || data.items || [], next: data.next_cursor || null };
  }
  async function loadEvents(append) {
    const q = filterQuery();
    if (append && st.nextCursor) q.set('cursor', st.nextCursor);
    $('list-error').hidden = true;
    const seq = ++st.loadSeq;
    try {
      const data = await api('/events?' + q.toString());
      // A newer load (another filter) started meanwhile: its answer wins.
      if (seq !== st.loadSeq) return;
      const { list, next } = eventsOf(data);
      if (!append) {
        // Keep the open alarm even if the new filter hides it from the list.
        const keep = st.selected ? st.events.get(st.selected) : null;
        st.events.clear();
        if (keep) st.events.set(key(keep), Object.assign(keep, { _hidden: true }));
      }
      for (const raw of list) {
        const e = norm(raw);
        if (e) st.events.set(key(e), Object.assign(st.events.get(key(e)) || {}, e, { _hidden: false }));
      }
      st.nextCursor = next;
      renderList();
    } catch (e) {
      $('list-error').textContent = t('error_load', { msg: e.message });
      $('list-error').hidden = false;
    } finally {
      // Lets tests (and people with devtools) tell that a (re)load finished.
      document.body.dataset.loads = String(Number(document.body.dataset.loads || 0) + 1);
    }
  }
  function kindLabel(k) {
    return I18N.zh['kind_' + k] !== undefined ? t('kind_' + k) : String(k || '?');
  }
  function floorText(e) {
    const o = e.origin;
    if (!o) return '';
    const parts = [];
    if (o.floor !== undefined && o.floor !== null) parts.push(t('floor_n', { n: o.floor }));
    // "21 楼 03 户": the column (unit) name from the building model, when it has one.
    if (typeof o.column_name === 'string') parts.push(t('unit_n', { n: o.column_name }));
    return parts.join(' · ');
  }
  function renderList() {
    const ul = $('alarm-list');
    const items = [...st.events.values()].filter((e) => !e._hidden && matches(e));
    items.sort((a, b) => sortKey(b) - sortKey(a) || String(b.id).localeCompare(String(a.id), undefined, { numeric: true }));
    const frag = document.createDocumentFragment();
    for (const e of items) frag.appendChild(alarmItem(e));
    ul.replaceChildren(frag);
    $('list-empty').hidden = items.length > 0;
    $('load-more').hidden = !st.nextCursor;
    const unhandled = [...st.events.values()].filter((e) => !e._hidden && e.state === 'new').length;
    const badge = $('unhandled-badge');
    badge.hidden = unhandled === 0;
    badge.textContent = String(unhandled);
    badge.title = t('unhandled_n', { n: unhandled });
  }
  function el(tag, cls, text) {
    const n = document.createElement(tag);
    if (cls) n.className = cls;
    if (text !== undefined) n.textContent = text;
    return n;
  }
  function alarmItem(e) {
    const li = el('li', 'alarm state-' + e.state + (e._fresh ? ' fresh' : '') + (key(e) === st.selected ? ' selected' : ''));
    li.dataset.id = key(e);
    li.dataset.state = e.state;
    li.tabIndex = 0;
    li.appendChild(el('span', 'bar'));
    const main = el('div', 'a-main');
    const k = el('span', 'a-kind', kindLabel(e.kind));
    main.appendChild(k);
    const fl = floorText(e);
    if (fl) main.appendChild(el('span', 'a-floor', fl));
    main.appendChild(el('div', 'a-where', e.camera || ''));
    li.appendChild(main);
    const side = el('div', 'a-side');
    side.appendChild(el('div', 'a-time', fmtShort(eventDate(e))));
    const s = el('div', 'a-state');
    s.appendChild(el('span', 'state state-pill-' + e.state, t('state_' + e.state)));
    side.appendChild(s);
    li.appendChild(side);
    return li;
  }
  function openAlarm(id) {
    location.hash = '#/alarms/' + encodeURIComponent(id);
  }

  // ---------- live stream (SSE) ----------
  function renderLive() {
    const s = $('live-status');
    const state = s.dataset.state || 'connecting';
    s.textContent = t(state === 'ok' ? 'live_ok' : state === 'down' ? 'live_down' : 'live_connecting');
    document.body.dataset.live = state;
  }
  function setLive(state) {
    $('live-status').dataset.state = state;
    renderLive();
  }
  function startStream() {
    stopStream();
    setLive('connecting');
    const es = new EventSource(API + '/events/stream?' + tokenQ());
    st.es = es;
    let opened = false;
    es.onopen = () => {
      setLive('ok');
      // After a gap, fill in what the stream missed.
      if (st.esRetry > 0) loadEvents(false);
      st.esRetry = 0;
      opened = true;
    };
    const onData = (m) => {
      let data;
      try {
        data = JSON.parse(m.data);
      } catch (e) {
        return;
      }
      onStreamEvent(data, m.type);
    };
    for (const name of ['message', 'event', 'new', 'update', 'end', 'state', 'alarm']) es.addEventListener(name, onData);
    // The server dropped notices for us (we were slow): re-list.
    es.addEventListener('lagged', () => loadEvents(false));
    es.onerror = async () => {
      setLive('down');
      if (es.readyState === EventSource.CLOSED || !opened) {
        // The browser gives up on HTTP errors; find out whether the token is the problem.
        es.close();
        st.esRetry += 1;
        try {
          await api('/cameras');
        } catch (e) {
          if (e.status === 401) return;
        }
        if (st.session && st.es === es) setTimeout(() => st.es === es && startStream(), Math.min(30000, 1000 * 2 ** st.esRetry));
      } else {
        st.esRetry += 1;
      }
    };
  }
  function stopStream() {
    if (st.es) st.es.close();
    st.es = null;
  }
  function onStreamEvent(data, type) {
    const e = norm(data);
    if (!e || !e.kind) return;
    const k = key(e);
    const old = st.events.get(k);
    const merged = Object.assign({}, old || {}, e, { _hidden: false });
    if (old && old.created_at_ms && !e.created_at_ms) merged.created_at_ms = old.created_at_ms;
    // Only a notice of a new alarm rings; updates of alarms we never listed stay quiet.
    const phase = (data && typeof data.phase === 'string' && data.event ? data.phase : '') || type;
    const isNew = !old && merged.state === 'new' && (phase === 'new' || phase === 'message' || phase === 'alarm');
    if (isNew) merged._fresh = true;
    st.events.set(k, merged);
    renderList();
    if (isNew) {
      Sound.play();
      toast(t('new_alarm_toast', { kind: kindLabel(merged.kind), camera: merged.camera }), k);
      setTimeout(() => {
        const cur = st.events.get(k);
        if (cur) delete cur._fresh;
      }, 4000);
    }
    if (st.selected === k) renderDetail(merged);
  }
  let toastTimer = null;
  function toast(text, id) {
    const n = $('toast');
    n.textContent = text;
    n.hidden = false;
    n.onclick = id ? () => openAlarm(id) : null;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => (n.hidden = true), 6000);
  }

  // ---------- detail ----------
  async function showDetail(id) {
    st.selected = id;
    document.querySelector('.split').classList.add('has-detail');
    $('alarms-view').classList.add('has-detail');
    const cached = st.events.get(id);
    if (cached) renderDetail(cached, true);
    renderList();
    try {
      const data = await api('/events/' + encodeURIComponent(id));
      const e = norm(data);
      if (e && st.selected === id) {
        const prev = st.events.get(id);
        const merged = Object.assign({}, prev || { _hidden: true }, e);
        st.events.set(id, merged);
        renderDetail(merged, !cached);
        renderList();
      }
    } catch (e) {
      if (st.selected === id && !cached) {
        $('detail-empty').textContent = t('error_load', { msg: e.message });
        $('detail-empty').hidden = false;
        $('detail-body').hidden = true;
      }
    }
  }
  function closeDetail() {
    st.selected = null;
    document.querySelector('.split').classList.remove('has-detail');
    $('alarms-view').classList.remove('has-detail');
    $('detail-body').hidden = true;
    $('detail-empty').textContent = t('pick_alarm');
    $('detail-empty').hidden = false;
    st.evGen = (st.evGen || 0) + 1;
    const v = $('d-video');
    v.pause();
    v.removeAttribute('src');
    v.load();
    renderList();
  }
  // What evidence the server says it holds: null when it does not say (then just try).
  function evidenceHas(e, kind) {
    const ev = e.evidence;
    if (Array.isArray(ev)) return ev.some((x) => x && x.kind === kind && !x.gone);
    if (ev && typeof ev === 'object' && kind in ev) return !!ev[kind];
    return null;
  }
  function evidenceSig(e) {
    return ['clip', 'snapshot', 'trajectory'].map((k) => k + ':' + evidenceHas(e, k)).join(',');
  }
  function pictureOrder(e) {
    // Falling objects: the trajectory picture says most; e-bikes: the annotated snapshot.
    const order = e.kind === 'falling_object' ? ['trajectory.png', 'snapshot.jpg'] : ['snapshot.jpg', 'trajectory.png'];
    return order.filter((f) => evidenceHas(e, f.split('.')[0]) !== false);
  }
  function renderDetail(e, fresh) {
    if (!e) return;
    $('detail-empty').hidden = true;
    const body = $('detail-body');
    body.hidden = false;
    body.dataset.id = key(e);
    body.dataset.state = e.state;
    $('d-title').textContent = kindLabel(e.kind);
    const s = $('d-state');
    s.className = 'state state-pill-' + e.state;
    s.textContent = t('state_' + e.state);
    $('d-camera').textContent = e.camera + (e.camera_location ? ' · ' + e.camera_location : cameraLocation(e.camera));
    $('d-time').textContent = fmtTime(eventDate(e)) + ' ' + offsetLabel(st.node.utc_offset_s);
    renderOrigin(e);
    $('d-conf').textContent = typeof e.confidence === 'number' ? (e.confidence * 100).toFixed(0) + '%' : '—';
    const dur = typeof e.end_s === 'number' && typeof e.start_s === 'number' ? Math.max(0, e.end_s - e.start_s) : null;
    $('d-dur').textContent = dur === null ? '—' : t('seconds', { s: dur.toFixed(1) });
    $('d-id').textContent = key(e);
    renderNotes(e);
    const handle = canHandle();
    $('d-actions').hidden = !handle;
    $('d-viewer-note').hidden = handle;
    $('d-ack').disabled = e.state === 'acknowledged';
    $('d-false').disabled = e.state === 'false_alarm';
    if (fresh) {
      $('d-action-msg').textContent = '';
      $('d-note').value = '';
    }
    // Clips are finished after the post-roll: show evidence again when more of it exists.
    const sig = evidenceSig(e);
    if (fresh || body.dataset.evsig !== sig) {
      body.dataset.evsig = sig;
      renderEvidence(e);
    }
  }
  function cameraLocation(name) {
    const c = st.cameras.find((x) => x.name === name);
    return c && c.location ? ' · ' + c.location : '';
  }
  function renderOrigin(e) {
    const o = e.origin;
    const lab = $('d-origin-label');
    if (o) {
      lab.textContent = t('origin');
      const parts = [];
      const fl = floorText(e);
      parts.push(fl || t('unknown_floor'));
      if (typeof o.height_m === 'number') parts.push(t('height_m', { m: o.height_m.toFixed(1) }));
      // The calibration frame's x means nothing to a guard: shown only when no window is known.
      if (typeof o.facade_x_m === 'number' && typeof o.column_name !== 'string') parts.push(t('facade_x', { m: o.facade_x_m.toFixed(1) }));
      if (typeof o.window_distance_m === 'number' && o.window_distance_m > 1.0) parts.push(t('window_off', { m: o.window_distance_m.toFixed(1) }));
      parts.push(t('pixel_xy', { x: Math.round(o.x), y: Math.round(o.y) }));
      $('d-origin').textContent = parts.join(' · ') + (o.floor === undefined || o.floor === null ? ' ' + t('not_calibrated') : '');
    } else if (Array.isArray(e.bbox)) {
      lab.textContent = t('bbox');
      const b = e.bbox.map((v) => Math.round(v));
      const label = e.label && I18N.zh['label_' + e.label] !== undefined ? t('label_' + e.label) : e.label;
      $('d-origin').textContent = (label ? label + ' ' : '') + '[' + b.join(', ') + ']';
    } else {
      lab.textContent = t('origin');
      $('d-origin').textContent = '—';
    }
  }
  function renderNotes(e) {
    let notes = e.notes;
    if (typeof notes === 'string') notes = notes ? [notes] : [];
    if (!Array.isArray(notes)) notes = [];
    $('d-notes-wrap').hidden = notes.length === 0;
    const ul = $('d-notes');
    ul.replaceChildren(
      ...notes.map((n) => {
        if (typeof n === 'string') return el('li', '', n);
        const who = n.user || n.username || n.by || '';
        const when = toDate(n.ts_ms || n.at || n.created_at);
        const head = [when ? fmtShort(when) : '', who].filter(Boolean).join(' ');
        return el('li', '', (head ? head + ': ' : '') + (n.text || n.note || ''));
      })
    );
  }
  // Evidence needs the operator's token: the server takes it in the URL for evidence files,
  // so <img> and <video> load straight from the API (the video streams and seeks with Range
  // requests instead of downloading the whole clip first).
  async function renderEvidence(e) {
    const fig = $('d-fig');
    const img = $('d-picture');
    const video = $('d-video');
    const msg = $('d-no-evidence');
    const dl = $('d-download');
    const gen = (st.evGen = (st.evGen || 0) + 1);
    const current = () => gen === st.evGen;
    msg.hidden = true;
    video.onerror = null;
    img.onerror = null;
    if (!canHandle()) {
      fig.hidden = true;
      video.hidden = true;
      video.removeAttribute('src');
      dl.hidden = true;
      dl.removeAttribute('href');
      msg.textContent = t('viewer_no_evidence');
      msg.hidden = false;
      return;
    }
    const id = key(e);
    const pics = pictureOrder(e);
    const hasClip = evidenceHas(e, 'clip') !== false;
    // Pictures: first that loads wins.
    fig.hidden = true;
    for (const f of pics) {
      try {
        const src = evUrl(id, f);
        await new Promise((ok, bad) => {
          img.onload = ok;
          img.onerror = bad;
          img.src = src;
        });
        if (!current()) return;
        img.dataset.file = f;
        img.alt = kindLabel(e.kind);
        $('d-picture-cap').textContent = t(f === 'trajectory.png' ? 'picture_trajectory' : 'picture_snapshot');
        fig.hidden = false;
        break;
      } catch (err) {
        /* try the next picture */
      }
    }
    if (!hasClip) {
      video.hidden = true;
      video.removeAttribute('src');
      dl.hidden = true;
      if (fig.hidden) {
        const pending = Array.isArray(e.evidence) && e.evidence.length === 0 && e.phase !== 'ended';
        msg.textContent = t(pending ? 'evidence_pending' : 'no_evidence');
        msg.hidden = false;
      }
      return;
    }
    const clipMissing = () => {
      if (!current()) return;
      // The file arrived but the browser cannot decode it: say so and keep the download.
      const undecodable = video.error && video.error.code === 3;
      video.hidden = true;
      dl.hidden = !undecodable;
      msg.textContent = t(undecodable ? 'clip_unplayable' : 'evidence_missing');
      msg.hidden = false;
    };
    const src = evUrl(id, 'clip.mp4');
    video.onerror = clipMissing;
    video.preload = 'metadata';
    video.src = src;
    video.hidden = false;
    video.dataset.mode = 'stream';
    dl.href = src;
    dl.setAttribute('download', 'vigil-' + (e.camera || 'camera') + '-' + id + '.mp4');
    dl.hidden = false;
  }
  async function act(kind) {
    const id = st.selected;
    if (!id) return;
    const note = $('d-note').value.trim();
    const path = { ack: 'ack', false: 'false_alarm', note: 'note' }[kind];
    if (kind === 'note' && !note) return;
    const buttons = [$('d-ack'), $('d-false'), $('d-add-note')];
    buttons.forEach((b) => (b.disabled = true));
    $('d-action-msg').textContent = '';
    try {
      const body = kind === 'note' ? { text: note } : note ? { note } : {};
      const data = await api('/events/' + encodeURIComponent(id) + '/' + path, { method: 'POST', body });
      let e = data && data.id !== undefined ? norm(data) : data && data.event ? norm(data.event) : null;
      if (!e) e = norm(await api('/events/' + encodeURIComponent(id)));
      if (e) {
        const merged = Object.assign({}, st.events.get(id) || {}, e);
        st.events.set(id, merged);
        renderList();
        renderDetail(merged);
      }
      $('d-note').value = '';
      $('d-action-msg').textContent = t(kind === 'ack' ? 'done_ack' : kind === 'false' ? 'done_false' : 'done_note');
    } catch (e) {
      $('d-action-msg').textContent = t('action_failed', { msg: e.message });
    } finally {
      const cur = st.events.get(id);
      $('d-add-note').disabled = false;
      $('d-ack').disabled = !!cur && cur.state === 'acknowledged';
      $('d-false').disabled = !!cur && cur.state === 'false_alarm';
    }
  }

  // ---------- cameras ----------
  function camsOf(data) {
    if (Array.isArray(data)) return data;
    return (data && (data.cameras || data.items)) || [];
  }
  function num(...vals) {
    for (const v of vals) if (typeof v === 'number' && isFinite(v)) return v;
    return null;
  }
  async function loadCameras() {
    try {
      st.cameras = camsOf(await api('/cameras'));
      $('cams-error').hidden = true;
    } catch (e) {
      $('cams-error').textContent = t('error_load', { msg: e.message });
      $('cams-error').hidden = false;
      return;
    }
    fillCameraFilter();
    if (st.view === 'cameras') {
      renderBoard();
      await Promise.all(
        st.cameras.map(async (c) => {
          try {
            st.health.set(c.name, await api('/cameras/' + encodeURIComponent(c.name) + '/health?window_s=86400'));
          } catch (e) {
            st.health.set(c.name, { _error: e.message });
          }
        })
      );
      renderBoard();
    }
  }
  function fillCameraFilter() {
    const sel = $('f-camera');
    const cur = sel.value;
    const first = sel.options[0];
    sel.replaceChildren(first);
    for (const c of st.cameras) {
      const o = el('option', '', c.name);
      o.value = c.name;
      sel.appendChild(o);
    }
    sel.value = cur;
  }
  function camState(c) {
    let s = (c.status && c.status.state) || c.state || (typeof c.status === 'string' ? c.status : '');
    if (!s && typeof c.online === 'boolean') s = c.online ? 'online' : c.reconnecting ? 'reconnecting' : 'offline';
    return ['online', 'reconnecting', 'offline'].includes(s) ? s : 'unknown';
  }
  function pct(v) {
    return v === null ? '—' : (v * 100).toFixed(1) + '%';
  }
  function rateRow(dl, label, v) {
    dl.appendChild(el('dt', '', label));
    const dd = el('dd', 'rate');
    if (v !== null) {
      const m = document.createElement('meter');
      m.min = 0;
      m.max = 1;
      m.low = 0.9;
      m.high = 0.99;
      m.optimum = 1;
      m.value = v;
      dd.appendChild(m);
    }
    dd.appendChild(el('span', '', pct(v)));
    dl.appendChild(dd);
  }
  function renderBoard() {
    const board = $('camera-board');
    if (!st.cameras.length) {
      board.replaceChildren(el('p', 'empty', t('no_cameras')));
      return;
    }
    board.replaceChildren(
      ...st.cameras.map((c) => {
        const s = Object.assign({}, c, c.status && typeof c.status === 'object' ? c.status : {});
        const state = camState(c);
        const card = el('section', 'cam cam-' + state);
        card.dataset.camera = c.name;
        card.dataset.state = state;
        const head = el('div', 'cam-head');
        head.appendChild(el('span', 'cam-name', c.name));
        head.appendChild(el('span', 'cam-state cam-state-' + state, t('cam_' + state)));
        card.appendChild(head);
        const thumb = c.thumbnail_url || c.thumbnail || c.snapshot_url;
        if (typeof thumb === 'string' && thumb.startsWith('/')) {
          const img = el('img', 'cam-thumb');
          img.alt = c.name;
          img.src = thumb + (thumb.includes('?') ? '&' : '?') + tokenQ();
          img.onerror = () => img.replaceWith(el('div', 'cam-thumb empty', t('no_thumbnail')));
          card.appendChild(img);
        } else {
          card.appendChild(el('div', 'cam-thumb empty', t('no_thumbnail')));
        }
        const dl = el('dl', 'cam-stats');
        const row = (label, value) => {
          dl.appendChild(el('dt', '', label));
          dl.appendChild(el('dd', '', value));
        };
        if (c.kind) row(t('f_kind'), t('kind_' + c.kind));
        if (c.location) row(t('location'), c.location);
        const inFps = num(s.input_fps, s.fps);
        const anFps = num(s.analysed_fps, s.analyzed_fps);
        row(t('input_fps'), inFps === null ? '—' : inFps.toFixed(1));
        if (anFps !== null) row(t('analysed_fps'), anFps.toFixed(1));
        const age = num(s.last_frame_age_s, s.last_frame_age);
        const lastAt = toDate(s.last_frame_at) || (age === null ? null : new Date(Date.now() - age * 1000));
        row(t('last_frame'), lastAt ? fmtTime(lastAt) + (age !== null ? ' (' + t('last_frame_age', { s: age.toFixed(1) }) + ')' : '') : t('never'));
        const de = num(s.decode_errors);
        const rc = num(s.reconnects);
        if (de !== null) row(t('decode_errors'), String(de));
        if (rc !== null) row(t('reconnects'), String(rc));
        if (state !== 'online' && typeof s.last_error === 'string' && s.last_error) row(t('last_error'), s.last_error);
        const h = st.health.get(c.name) || {};
        rateRow(dl, t('online_rate'), num(h.online_rate, s.online_rate));
        rateRow(dl, t('image_rate'), num(h.image_availability_rate, h.image_rate, s.image_availability_rate));
        card.appendChild(dl);
        const cc = s.calibration_check || c.calibration_check;
        if (cc && cc.moved) {
          card.classList.add('cam-calib-moved');
          const sx = Math.round(num(cc.shift_px && cc.shift_px[0]) || 0);
          const sy = Math.round(num(cc.shift_px && cc.shift_px[1]) || 0);
          card.appendChild(el('div', 'cam-calib-warn', t('calib_moved', { x: sx, y: sy })));
        }
        return card;
      })
    );
  }

  // ---------- accounts ----------
  // Every change is made and audited by the server, which also revokes the user's tokens; the
  // console only shows the result.
  async function changeOwnPassword(ev) {
    ev.preventDefault();
    const msg = $('pw-msg');
    msg.textContent = '';
    try {
      const r = await api('/auth/password', {
        method: 'POST',
        body: { current_password: $('pw-current').value, new_password: $('pw-new').value },
        noLogout: true
      });
      // The old session was revoked with the others: continue on the fresh one.
      saveSession(Object.assign({}, st.session, { token: r.token, expires_at: r.expires_at_ms || null }));
      $('pw-current').value = '';
      $('pw-new').value = '';
      msg.textContent = t('password_changed');
      stopStream();
      startStream();
    } catch (e) {
      msg.textContent = e.message;
    }
  }
  async function loadUsers() {
    try {
      const r = await api('/users');
      st.users = (r && r.users) || [];
      renderUsers();
    } catch (e) {
      $('users-msg').textContent = e.message;
    }
  }
  function renderUsers() {
    const body = $('users-body');
    if (!body) return;
    body.replaceChildren(
      ...(st.users || []).map((u) => {
        const tr = document.createElement('tr');
        tr.dataset.user = u.name;
        tr.appendChild(el('td', '', u.name));
        const roleTd = document.createElement('td');
        const sel = document.createElement('select');
        sel.className = 'u-role';
        for (const r of ['viewer', 'operator', 'admin']) {
          const o = document.createElement('option');
          o.value = r;
          o.textContent = t('role_' + r);
          o.selected = u.role === r;
          sel.appendChild(o);
        }
        sel.addEventListener('change', () => userAction(u.name, 'role', sel.value));
        roleTd.appendChild(sel);
        tr.appendChild(roleTd);
        tr.appendChild(el('td', u.disabled ? 'u-disabled' : '', u.disabled ? t('disabled') : t('enabled')));
        tr.appendChild(el('td', '', String(u.active_tokens)));
        const acts = document.createElement('td');
        const btn = (key, fn) => {
          const b = el('button', 'u-' + key, t(key));
          b.type = 'button';
          b.addEventListener('click', fn);
          acts.appendChild(b);
        };
        btn(u.disabled ? 'enable' : 'disable', () => userAction(u.name, u.disabled ? 'enable' : 'disable'));
        btn('reset_password', () => userAction(u.name, 'password'));
        btn('revoke', () => userAction(u.name, 'revoke'));
        btn('delete', () => userAction(u.name, 'delete'));
        tr.appendChild(acts);
        return tr;
      })
    );
  }
  async function userAction(name, what, value) {
    const msg = $('users-msg');
    msg.textContent = '';
    const path = '/users/' + encodeURIComponent(name);
    try {
      let r;
      if (what === 'role') r = await api(path, { method: 'PATCH', body: { role: value } });
      else if (what === 'disable' || what === 'enable') r = await api(path, { method: 'PATCH', body: { disabled: what === 'disable' } });
      else if (what === 'revoke') r = await api(path + '/revoke_tokens', { method: 'POST' });
      else if (what === 'delete') {
        if (!window.confirm(t('confirm_delete', { name }))) return;
        r = await api(path, { method: 'DELETE' });
      } else if (what === 'password') {
        const pw = window.prompt(t('prompt_password', { name }));
        if (!pw) return;
        r = await api(path + '/password', { method: 'PUT', body: { password: pw } });
      }
      msg.textContent = t('done_revoked', { name, n: r ? r.tokens_revoked : 0 });
    } catch (e) {
      msg.textContent = e.message;
    }
    loadUsers();
  }
  async function addUser(ev) {
    ev.preventDefault();
    const msg = $('users-msg');
    const name = $('ua-name').value.trim();
    try {
      await api('/users', { method: 'POST', body: { name, role: $('ua-role').value, password: $('ua-pass').value } });
      $('ua-name').value = '';
      $('ua-pass').value = '';
      msg.textContent = t('user_added', { name });
    } catch (e) {
      msg.textContent = e.message;
    }
    loadUsers();
  }

  // ---------- calibration (admin) ----------
  // Points are placed on the camera's full-size snapshot; every change asks the server for a
  // dry-run fit (per-point error, warnings, the fitted floor grid); "save" writes it.
  const cal = { camera: '', img: null, w: 0, h: 0, points: [], fit: null, seq: 0, coverage: null };
  async function loadCalibCameras() {
    try {
      const r = await api('/cameras');
      const cams = camsOf(r).filter((c) => c.kind === 'facade');
      const sel = $('cal-camera');
      const cur = sel.value;
      sel.replaceChildren(
        ...cams.map((c) => {
          const o = document.createElement('option');
          o.value = c.name;
          o.textContent = c.name;
          o.selected = c.name === cur;
          return o;
        })
      );
    } catch (e) {
      $('cal-msg').textContent = e.message;
    }
  }
  async function loadSnapshot() {
    const name = $('cal-camera').value;
    $('cal-msg').textContent = '';
    if (!name) return;
    let resp;
    try {
      resp = await fetch(API + '/cameras/' + encodeURIComponent(name) + '/snapshot.jpg', {
        headers: { Authorization: 'Bearer ' + st.session.token },
        cache: 'no-store'
      });
    } catch (e) {
      $('cal-msg').textContent = t('error_network');
      return;
    }
    if (!resp.ok) {
      $('cal-msg').textContent = t('calib_no_snapshot');
      return;
    }
    const blob = await resp.blob();
    const img = await createImageBitmap(blob);
    cal.camera = name;
    cal.img = img;
    cal.w = img.width;
    cal.h = img.height;
    cal.points = [];
    cal.fit = null;
    cal.coverage = null;
    $('cal-body').replaceChildren();
    const c = $('cal-canvas');
    c.width = img.width;
    c.height = img.height;
    c.dataset.loaded = name;
    renderCalib();
  }
  function drawCalib() {
    const c = $('cal-canvas');
    const g = c.getContext('2d');
    g.clearRect(0, 0, c.width, c.height);
    if (cal.img) g.drawImage(cal.img, 0, 0);
    if (cal.coverage) {
      const fill = { cm5: 'rgba(30,200,60,0.5)', cm10: 'rgba(245,215,30,0.5)', cm30: 'rgba(255,130,0,0.5)', not_covered: 'rgba(225,30,30,0.5)' };
      for (const m of cal.coverage.masks || []) {
        g.strokeStyle = 'rgba(230,60,220,0.9)';
        g.lineWidth = 2;
        g.beginPath();
        m.forEach((q, i) => (i ? g.lineTo(q[0], q[1]) : g.moveTo(q[0], q[1])));
        g.closePath();
        g.stroke();
      }
      for (const w of cal.coverage.windows) {
        if (!w.in_image) continue;
        g.fillStyle = fill[w.size_class] || fill.not_covered;
        g.beginPath();
        w.corners_px.forEach((q, i) => (i ? g.lineTo(q[0], q[1]) : g.moveTo(q[0], q[1])));
        g.closePath();
        g.fill();
      }
    }
    if (cal.fit && cal.fit.grid) {
      g.strokeStyle = 'rgba(40,220,230,0.9)';
      g.lineWidth = 1;
      g.fillStyle = 'rgba(40,220,230,1)';
      g.font = '12px sans-serif';
      for (const [floor, a, b] of cal.fit.grid.floor_lines) {
        g.beginPath();
        g.moveTo(a[0], a[1]);
        g.lineTo(b[0], b[1]);
        g.stroke();
        g.fillText(String(floor), Math.max(2, Math.min(a[0], c.width - 20)), a[1] - 2);
      }
    }
    cal.points.forEach((p, i) => {
      const fp = cal.fit && cal.fit.points[i];
      const bad = fp && fp.error_px > 3;
      g.strokeStyle = bad ? '#ff4040' : '#ffe020';
      g.lineWidth = 2;
      g.beginPath();
      g.arc(p.px[0], p.px[1], 6, 0, 2 * Math.PI);
      g.stroke();
      g.fillStyle = g.strokeStyle;
      g.font = 'bold 14px sans-serif';
      g.fillText(String(i + 1), p.px[0] + 8, p.px[1] - 8);
      if (fp) {
        g.strokeStyle = '#40ff60';
        g.beginPath();
        g.moveTo(fp.reprojected_px[0] - 4, fp.reprojected_px[1]);
        g.lineTo(fp.reprojected_px[0] + 4, fp.reprojected_px[1]);
        g.moveTo(fp.reprojected_px[0], fp.reprojected_px[1] - 4);
        g.lineTo(fp.reprojected_px[0], fp.reprojected_px[1] + 4);
        g.stroke();
      }
    });
  }
  function calSelect(cls, options, value, onChange) {
    const sel = document.createElement('select');
    sel.className = cls;
    for (const o of options) {
      const opt = document.createElement('option');
      opt.value = o;
      opt.textContent = t(cls.replace('cal-', '') + '_' + o);
      opt.selected = o === value;
      sel.appendChild(opt);
    }
    sel.addEventListener('change', () => onChange(sel.value));
    return sel;
  }
  function renderCalib() {
    drawCalib();
    const body = $('cal-body');
    const rows = body.querySelectorAll('tr');
    if (rows.length === cal.points.length && rows.length > 0) {
      // Same points: only the errors change (the row being typed in keeps its focus).
      rows.forEach((tr, i) => {
        const fp = cal.fit && cal.fit.points[i];
        const td = tr.querySelector('.cal-err');
        td.textContent = fp ? fp.error_px.toFixed(2) : '—';
        td.className = 'cal-err' + (fp && fp.error_px > 3 ? ' cal-bad' : '');
      });
    } else {
      renderCalibRows(body);
    }
    renderCalibSummary();
  }
  function renderCalibRows(body) {
    body.replaceChildren(
      ...cal.points.map((p, i) => {
        const tr = document.createElement('tr');
        tr.dataset.point = String(i);
        tr.appendChild(el('td', '', String(i + 1)));
        tr.appendChild(el('td', '', Math.round(p.px[0]) + ', ' + Math.round(p.px[1])));
        const num = (cls, key) => {
          const td = document.createElement('td');
          const inp = document.createElement('input');
          inp.type = 'number';
          inp.className = cls;
          inp.value = p[key] === undefined ? '' : String(p[key]);
          const onEdit = () => {
            const v = parseInt(inp.value, 10);
            if (Number.isFinite(v)) p[key] = v;
            else delete p[key];
            scheduleFit();
          };
          inp.addEventListener('input', onEdit);
          inp.addEventListener('change', onEdit);
          td.appendChild(inp);
          return td;
        };
        tr.appendChild(num('cal-floor', 'floor'));
        const at = document.createElement('td');
        at.appendChild(calSelect('cal-at', ['floor', 'sill', 'window_top'], p.at || 'floor', (v) => { p.at = v; scheduleFit(); }));
        tr.appendChild(at);
        tr.appendChild(num('cal-column', 'column'));
        const side = document.createElement('td');
        side.appendChild(calSelect('cal-side', ['centre', 'left', 'right'], p.side || 'centre', (v) => { p.side = v; scheduleFit(); }));
        tr.appendChild(side);
        const fp = cal.fit && cal.fit.points[i];
        tr.appendChild(el('td', 'cal-err' + (fp && fp.error_px > 3 ? ' cal-bad' : ''), fp ? fp.error_px.toFixed(2) : '—'));
        const del = document.createElement('td');
        const b = el('button', 'cal-del', '×');
        b.type = 'button';
        b.addEventListener('click', () => {
          cal.points.splice(i, 1);
          cal.fit = null;
          $('cal-body').replaceChildren();
          renderCalib();
          scheduleFit();
        });
        del.appendChild(b);
        tr.appendChild(del);
        return tr;
      })
    );
  }
  function renderCalibSummary() {
    const ready = cal.points.filter((p) => p.floor !== undefined && p.column !== undefined).length;
    $('cal-save').disabled = !(cal.fit && ready === cal.points.length && ready >= 4);
    if (ready < 4) $('cal-summary').textContent = t('calib_need', { n: 4 - ready });
    else if (cal.fit) {
      const f = cal.fit.floors_visible;
      $('cal-summary').textContent = t('calib_fit', { max: cal.fit.max_error_px, rms: cal.fit.rms_error_px, floors: f ? f[0] + '–' + f[1] : '—' });
    }
    $('cal-warnings').replaceChildren(...((cal.fit && cal.fit.warnings) || []).map((w) => el('li', '', w)));
  }
  function calBody() {
    return {
      image_size: [cal.w, cal.h],
      points: cal.points.map((p) => ({ px: p.px, floor: p.floor, column: p.column, at: p.at || 'floor', side: p.side || 'centre' }))
    };
  }
  let fitTimer = null;
  function scheduleFit() {
    if (fitTimer) clearTimeout(fitTimer);
    fitTimer = setTimeout(runFit, 150);
  }
  async function runFit() {
    const ready = cal.points.filter((p) => p.floor !== undefined && p.column !== undefined);
    $('cal-msg').textContent = '';
    if (ready.length < 4 || ready.length !== cal.points.length) {
      cal.fit = null;
      renderCalib();
      return;
    }
    const seq = ++cal.seq;
    try {
      const r = await api('/cameras/' + encodeURIComponent(cal.camera) + '/calibration?dry_run=true', { method: 'POST', body: calBody() });
      if (seq !== cal.seq) return;
      cal.fit = r;
    } catch (e) {
      if (seq !== cal.seq) return;
      cal.fit = null;
      $('cal-msg').textContent = e.message;
    }
    renderCalib();
  }
  async function saveCalib() {
    $('cal-msg').textContent = '';
    try {
      const r = await api('/cameras/' + encodeURIComponent(cal.camera) + '/calibration', { method: 'POST', body: calBody() });
      cal.fit = r;
      renderCalib();
      $('cal-msg').textContent = t('calib_saved', { gen: r.reload ? r.reload.generation : '—' });
      $('cal-msg').dataset.saved = 'true';
    } catch (e) {
      $('cal-msg').textContent = e.message;
    }
  }
  async function toggleCoverage() {
    const c = $('cal-canvas');
    if (cal.coverage) {
      cal.coverage = null;
      c.dataset.coverage = '';
      $('cal-cov-legend').hidden = true;
      drawCalib();
      return;
    }
    if (!cal.img) return;
    try {
      cal.coverage = await api('/cameras/' + encodeURIComponent(cal.camera) + '/coverage?width=' + cal.w + '&height=' + cal.h);
      const f = cal.coverage.floors_in_view;
      const n = cal.coverage.windows.filter((w) => w.in_image).length;
      $('cal-msg').textContent = t('calib_cov_summary', { floors: f.length ? f[0] + '–' + f[f.length - 1] : '—', n });
      c.dataset.coverage = 'shown';
      $('cal-cov-legend').hidden = false;
    } catch (e) {
      cal.coverage = null;
      $('cal-msg').textContent = e.message;
    }
    drawCalib();
  }
  function calClick(ev) {
    if (!cal.img) return;
    const c = $('cal-canvas');
    const r = c.getBoundingClientRect();
    const x = ((ev.clientX - r.left) * c.width) / r.width;
    const y = ((ev.clientY - r.top) * c.height) / r.height;
    cal.points.push({ px: [Math.round(x * 10) / 10, Math.round(y * 10) / 10] });
    renderCalib();
    const rows = $('cal-body').querySelectorAll('input.cal-floor');
    if (rows.length) rows[rows.length - 1].focus();
  }

  // ---------- views and routing ----------
  function route() {
    if (!st.session) return;
    const h = location.hash || '#/alarms';
    const m = /^#\/alarms\/(.+)$/.exec(h);
    const view = h.startsWith('#/cameras')
      ? 'cameras'
      : h.startsWith('#/accounts')
        ? 'accounts'
        : h.startsWith('#/calibrate') && st.session.role === 'admin'
          ? 'calibrate'
          : 'alarms';
    st.view = view;
    document.body.dataset.view = view;
    $('alarms-view').hidden = view !== 'alarms';
    $('cameras-view').hidden = view !== 'cameras';
    $('accounts-view').hidden = view !== 'accounts';
    $('calib-view').hidden = view !== 'calibrate';
    $('tab-calib').hidden = st.session.role !== 'admin';
    $('tab-calib').classList.toggle('active', view === 'calibrate');
    $('tab-accounts').classList.toggle('active', view === 'accounts');
    $('tab-alarms').classList.toggle('active', view === 'alarms');
    $('tab-cameras').classList.toggle('active', view === 'cameras');
    if (st.camTimer) clearInterval(st.camTimer);
    st.camTimer = null;
    if (view === 'calibrate') {
      loadCalibCameras();
    } else if (view === 'accounts') {
      $('users-admin').hidden = st.session.role !== 'admin';
      if (st.session.role === 'admin') loadUsers();
    } else if (view === 'cameras') {
      renderBoard();
      loadCameras();
      st.camTimer = setInterval(loadCameras, 10000);
    } else if (m) {
      let id = m[1];
      try {
        id = decodeURIComponent(id);
      } catch (e) {
        /* keep raw */
      }
      if (id !== st.selected || $('detail-body').hidden) showDetail(id);
    } else if (st.selected) {
      closeDetail();
    }
  }
  function renderWho() {
    if (!st.session) return;
    $('who').textContent = st.session.username + ' · ' + t('role_' + st.session.role);
    document.body.dataset.role = st.session.role;
  }
  function renderMute() {
    const b = $('mute');
    b.textContent = Sound.muted ? t('sound_off') : t('sound_on');
    b.title = Sound.muted ? t('unmute') : t('mute');
    b.setAttribute('aria-label', b.title);
    b.setAttribute('aria-pressed', Sound.muted ? 'true' : 'false');
  }
  async function loadNode() {
    try {
      const r = await fetch('/console/node.json', { cache: 'no-store' });
      if (r.ok) {
        const n = await r.json();
        if (typeof n.utc_offset_s === 'number') st.node.utc_offset_s = n.utc_offset_s;
        st.node.tz = typeof n.tz === 'string' ? n.tz : null;
      }
    } catch (e) {
      /* keep the browser's own offset */
    }
    renderClock();
  }
  let clockTimer = null;
  function start() {
    $('login-view').hidden = true;
    $('main-view').hidden = false;
    applyI18n();
    if (!location.hash || location.hash === '#' || location.hash === '#/login') location.hash = '#/alarms';
    route();
    startStream();
    loadEvents(false);
    loadCameras();
    if (!clockTimer) clockTimer = setInterval(renderClock, 1000);
  }

  function bind() {
    $('login-form').addEventListener('submit', doLogin);
    for (const b of document.querySelectorAll('.lang-switch')) b.addEventListener('click', () => setLang(st.lang === 'zh' ? 'en' : 'zh'));
    $('logout').addEventListener('click', () => logout());
    $('mute').addEventListener('click', () => {
      Sound.setMuted(!Sound.muted);
      renderMute();
    });
    document.addEventListener('click', () => Sound.unlock(), { capture: true });
    $('filters').addEventListener('submit', (ev) => {
      ev.preventDefault();
      const f = new FormData($('filters'));
      for (const k of Object.keys(st.filters)) st.filters[k] = String(f.get(k) || '');
      loadEvents(false);
    });
    $('f-reset').addEventListener('click', () => {
      $('filters').reset();
      for (const k of Object.keys(st.filters)) st.filters[k] = '';
      loadEvents(false);
    });
    $('filter-toggle').addEventListener('click', () => {
      const open = $('filters').classList.toggle('open');
      $('filter-toggle').setAttribute('aria-expanded', open ? 'true' : 'false');
    });
    $('load-more').addEventListener('click', () => loadEvents(true));
    const list = $('alarm-list');
    list.addEventListener('click', (ev) => {
      const li = ev.target.closest('.alarm');
      if (li) openAlarm(li.dataset.id);
    });
    list.addEventListener('keydown', (ev) => {
      const li = ev.target.closest('.alarm');
      if (li && (ev.key === 'Enter' || ev.key === ' ')) {
        ev.preventDefault();
        openAlarm(li.dataset.id);
      }
    });
    $('detail-close').addEventListener('click', () => (location.hash = '#/alarms'));
    $('d-ack').addEventListener('click', () => act('ack'));
    $('d-false').addEventListener('click', () => act('false'));
    $('d-add-note').addEventListener('click', () => act('note'));
    $('cams-refresh').addEventListener('click', loadCameras);
    $('pw-form').addEventListener('submit', changeOwnPassword);
    $('user-add').addEventListener('submit', addUser);
    $('cal-load').addEventListener('click', loadSnapshot);
    $('cal-clear').addEventListener('click', () => {
      cal.points = [];
      cal.fit = null;
      $('cal-body').replaceChildren();
      renderCalib();
    });
    $('cal-save').addEventListener('click', saveCalib);
    $('cal-coverage').addEventListener('click', toggleCoverage);
    $('cal-canvas').addEventListener('click', calClick);
    window.addEventListener('hashchange', route);
  }

  function init() {
    bind();
    loadNode();
    applyI18n();
    if (st.session) start();
    else logout();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
