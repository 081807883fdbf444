// Browser end-to-end tests of the vigil console, in Debian's headless Chromium driven by
// playwright-core (no bundled browser; never `playwright install`).
//
// The server is started by tests/console.rs: a real `vigil serve` child process on 127.0.0.1
// with a generated tower clip paced as a live camera (alarms keep arriving while the page is
// open) and a dead RTSP camera (reconnecting). Environment:
//   VIGIL_URL            base URL, e.g. http://127.0.0.1:18080
//   VIGIL_OPERATOR       user:password of an operator
//   VIGIL_VIEWER         user:password of a viewer
//   VIGIL_SHOTS          where screenshots go (default /tmp/console-shots; outside the repo)
//   CHROMIUM             browser binary (default /usr/bin/chromium)
// Run: node --test tests/console/e2e.test.mjs
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BASE = process.env.VIGIL_URL || 'http://127.0.0.1:18080';
const [OP_USER, OP_PASS] = (process.env.VIGIL_OPERATOR || 'op:op-pass').split(/:(.*)/s);
const [VW_USER, VW_PASS] = (process.env.VIGIL_VIEWER || 'view:view-pass').split(/:(.*)/s);
const SHOTS = process.env.VIGIL_SHOTS || '/tmp/console-shots';
// Generous: a new alarm comes from the server's own schedule (a looping clip or a publisher).
const ALARM_WAIT_MS = Number(process.env.VIGIL_ALARM_WAIT_MS || 90000);

let browser;
let userDir;

before(async () => {
  fs.mkdirSync(SHOTS, { recursive: true });
  userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'vigil-chromium-'));
  // A fresh profile each run; flags keep Chromium from calling home or touching the GPU.
  browser = await chromium.launchPersistentContext(userDir, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1366, height: 768 },
    locale: 'zh-CN',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--autoplay-policy=no-user-gesture-required'
    ]
  });
});

after(async () => {
  if (browser) await browser.close();
  if (userDir) fs.rmSync(userDir, { recursive: true, force: true });
});

async function freshPage() {
  const page = await browser.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.errors = errors;
  // Sign out any session left in this profile by an earlier test.
  await page.goto(BASE + '/');
  await page.evaluate(() => sessionStorage.clear());
  await page.goto(BASE + '/');
  return page;
}

async function login(page, user, pass) {
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-user', user);
  await page.fill('#login-pass', pass);
  await page.click('#login-submit');
  await page.waitForSelector('#main-view', { state: 'visible' });
  // The live stream is open before we wait for alarms on it.
  await page.waitForFunction(() => document.body.dataset.live === 'ok', null, { timeout: 20000 });
}

async function listIds(page) {
  return page.$$eval('#alarm-list .alarm', (lis) => lis.map((li) => li.dataset.id));
}

// Submit the filter form and wait until the list has been reloaded from the server.
async function applyFilters(page, action) {
  const n = Number((await page.getAttribute('body', 'data-loads')) || 0);
  await action();
  await page.waitForFunction((k) => Number(document.body.dataset.loads || 0) > k, n);
}

async function noHorizontalOverflow(page) {
  return page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1);
}

// Filled by the operator test, used by the viewer test.
let handledId = null;

test('login page is Chinese by default and rejects a wrong password', async () => {
  const page = await freshPage();
  await page.waitForSelector('#login-form', { state: 'visible' });
  assert.equal(await page.getAttribute('html', 'lang'), 'zh-CN');
  assert.equal((await page.textContent('#login-submit')).trim(), '登录');
  await page.fill('#login-user', OP_USER);
  await page.fill('#login-pass', OP_PASS + '-wrong');
  await page.click('#login-submit');
  await page.waitForSelector('#login-error', { state: 'visible' });
  assert.match(await page.textContent('#login-error'), /错误|失败/);
  assert.equal(await page.isVisible('#main-view'), false);
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('operator: live alarm arrives, detail with evidence, clip plays and seeks, acknowledge updates the list', async () => {
  const page = await freshPage();
  await login(page, OP_USER, OP_PASS);
  // A marker that a reload would wipe: the alarm must arrive over the stream.
  await page.evaluate(() => (window.__noReload = 'still-here'));
  await page.waitForFunction(() => document.querySelector('#list-empty') && (document.querySelector('#alarm-list').children.length > 0 || !document.querySelector('#list-empty').hidden));
  const before = new Set(await listIds(page));

  // Wait for an alarm that was not in the list when the page loaded.
  const handle = await page.waitForFunction(
    (known) => {
      const li = [...document.querySelectorAll('#alarm-list .alarm[data-state="new"]')].find((x) => !known.includes(x.dataset.id));
      return li ? li.dataset.id : null;
    },
    [...before],
    { timeout: ALARM_WAIT_MS, polling: 200 }
  );
  const newId = await handle.jsonValue();
  assert.ok(newId, 'a new alarm appeared in the list');
  assert.equal(await page.evaluate(() => window.__noReload), 'still-here', 'the page was not reloaded');
  // Newest first: the new alarm sits above every older one.
  const ids = await listIds(page);
  const pos = ids.indexOf(newId);
  const olderAbove = ids.slice(0, pos).filter((id) => before.has(id));
  assert.deepEqual(olderAbove, [], 'no older alarm above the new one');
  // Unhandled alarms stand out and ask for the sound.
  const li = page.locator(`#alarm-list .alarm[data-id="${newId}"]`);
  assert.match(await li.getAttribute('class'), /state-new/);
  assert.ok((await page.evaluate(() => window.VigilSound.requested)) >= 1, 'alarm sound requested');
  assert.equal(await page.isVisible('#unhandled-badge'), true);
  const kindText = (await li.locator('.a-kind').textContent()).trim();
  assert.ok(['高空抛物', '电动车进电梯'].includes(kindText), `kind shown in Chinese: ${kindText}`);
  assert.ok(await noHorizontalOverflow(page), 'no horizontal scroll at 1366x768');
  await page.screenshot({ path: path.join(SHOTS, 'list-1366x768.png') });

  // Open it.
  await li.click();
  await page.waitForFunction((id) => {
    const b = document.querySelector('#detail-body');
    return b && !b.hidden && b.dataset.id === id;
  }, newId);
  assert.equal(await page.evaluate(() => location.hash), '#/alarms/' + encodeURIComponent(newId));
  // The picture comes first: trajectory for falling objects, snapshot for e-bikes.
  // Evidence exists once the event has ended and its post-roll is recorded: wait for it.
  await page.waitForFunction(() => {
    const img = document.querySelector('#d-picture');
    return img && !document.querySelector('#d-fig').hidden && img.complete && img.naturalWidth > 0;
  }, null, { timeout: 60000 });
  const pic = await page.getAttribute('#d-picture', 'data-file');
  assert.equal(pic, kindText === '高空抛物' ? 'trajectory.png' : 'snapshot.jpg');
  assert.notEqual((await page.textContent('#d-camera')).trim(), '');
  assert.match(await page.textContent('#d-conf'), /^\d+%$/);
  assert.match(await page.textContent('#d-time'), /UTC[+-]\d\d:\d\d/);
  if (kindText === '高空抛物') assert.match(await page.textContent('#d-origin'), /楼|floor|画面位置/);

  // The clip plays in the page and seeks (the server honours Range).
  const video = await page.evaluate(async () => {
    const v = document.querySelector('#d-video');
    if (v.hidden) return { error: 'video hidden' };
    if (v.readyState < 1) await new Promise((ok, bad) => { v.addEventListener('loadedmetadata', ok, { once: true }); v.addEventListener('error', () => bad(new Error('video error ' + (v.error && v.error.code))), { once: true }); });
    await v.play();
    const t0 = v.currentTime;
    await new Promise((ok) => { const f = () => (v.currentTime > t0 ? ok() : setTimeout(f, 50)); f(); });
    v.pause();
    const target = v.duration / 2;
    const seeked = new Promise((ok) => v.addEventListener('seeked', ok, { once: true }));
    v.currentTime = target;
    await seeked;
    // Range straight from the API, with the operator's token.
    const tok = JSON.parse(sessionStorage.getItem('vigil.session')).token;
    const clipPath = '/api/v1/events/' + encodeURIComponent(document.querySelector('#detail-body').dataset.id) + '/clip.mp4';
    const r = await fetch(clipPath, { headers: { Range: 'bytes=0-99', Authorization: 'Bearer ' + tok } });
    return {
      mode: v.dataset.mode,
      src: v.currentSrc || v.src,
      duration: v.duration,
      target,
      after: v.currentTime,
      seekable: v.seekable.length ? v.seekable.end(0) : 0,
      rangeStatus: r.status,
      rangeLen: (await r.arrayBuffer()).byteLength,
      contentRange: r.headers.get('content-range')
    };
  });
  assert.equal(video.error, undefined, video.error);
  const beeps = await page.evaluate(() => window.VigilSound.played);
  console.log(`# clip loaded as ${video.mode}, duration ${video.duration.toFixed(2)} s; alarm sounds played: ${beeps}`);
  assert.ok(video.duration > 0, 'clip has a duration');
  assert.ok(Math.abs(video.after - video.target) < 0.5, `seeked to ${video.after} (wanted ${video.target})`);
  assert.ok(video.seekable > 0, 'clip is seekable');
  // The <video> streams from the API with the token in the URL (Range requests), not a blob.
  assert.equal(video.mode, 'stream');
  assert.match(video.src, /\/api\/v1\/events\/\d+\/clip\.mp4\?access_token=/);
  assert.equal(video.rangeStatus, 206);
  assert.equal(video.rangeLen, 100);
  assert.match(video.contentRange || '', /^bytes 0-99\/\d+$/);
  assert.equal(await page.isVisible('#d-download'), true, 'operator sees the evidence download');
  await page.screenshot({ path: path.join(SHOTS, 'detail-1366x768.png') });

  // Acknowledge with a note; the state changes in the detail and in the list, no reload.
  const note = '已到现场查看 e2e ' + Date.now();
  await page.fill('#d-note', note);
  await page.click('#d-ack');
  await page.waitForFunction(() => document.querySelector('#detail-body').dataset.state === 'acknowledged');
  await page.waitForFunction((id) => {
    const x = document.querySelector(`#alarm-list .alarm[data-id="${id}"]`);
    return x && x.dataset.state === 'acknowledged';
  }, newId);
  assert.equal((await page.textContent(`#alarm-list .alarm[data-id="${newId}"] .state`)).trim(), '已确认');
  assert.equal(await page.evaluate(() => window.__noReload), 'still-here');
  assert.equal(await page.isDisabled('#d-ack'), true);
  // The server agrees, and kept the note.
  const server = await page.evaluate(async (id) => {
    const tok = JSON.parse(sessionStorage.getItem('vigil.session')).token;
    const r = await fetch('/api/v1/events/' + encodeURIComponent(id), { headers: { Authorization: 'Bearer ' + tok } });
    return r.json();
  }, newId);
  assert.equal(server.state, 'acknowledged');
  assert.ok(JSON.stringify(server.notes || '').includes(note), 'note stored on the server');
  await page.waitForSelector('#d-notes-wrap', { state: 'visible' });
  assert.ok((await page.textContent('#d-notes')).includes(note));
  handledId = newId;

  // Filter by state: the acknowledged alarm is found, unhandled-only hides it.
  await page.selectOption('#f-state', 'acknowledged');
  await applyFilters(page, () => page.click('#filters button[type="submit"]'));
  assert.ok((await listIds(page)).includes(newId), 'acknowledged filter shows the handled alarm');
  const states = await page.$$eval('#alarm-list .alarm', (l) => [...new Set(l.map((x) => x.dataset.state))]);
  assert.deepEqual(states, ['acknowledged']);
  await page.selectOption('#f-state', 'new');
  await applyFilters(page, () => page.click('#filters button[type="submit"]'));
  assert.ok(!(await listIds(page)).includes(newId), 'unhandled filter hides it');
  const states2 = await page.$$eval('#alarm-list .alarm', (l) => [...new Set(l.map((x) => x.dataset.state))]);
  assert.ok(states2.every((s) => s === 'new'), `only unhandled: ${states2}`);
  await applyFilters(page, () => page.click('#f-reset'));
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('viewer: sees alarms but no evidence, no download, no actions; the server refuses the clip', async () => {
  assert.ok(handledId, 'the operator test ran first');
  const page = await freshPage();
  await login(page, VW_USER, VW_PASS);
  await page.waitForSelector(`#alarm-list .alarm[data-id="${handledId}"]`);
  await page.click(`#alarm-list .alarm[data-id="${handledId}"]`);
  await page.waitForFunction((id) => document.querySelector('#detail-body').dataset.id === id, handledId);
  assert.equal(await page.isVisible('#d-download'), false, 'no download link');
  assert.equal(await page.isVisible('#d-video'), false, 'no clip');
  assert.equal(await page.isVisible('#d-actions'), false, 'no handling buttons');
  assert.equal(await page.isVisible('#d-viewer-note'), true);
  assert.equal(await page.isVisible('#d-no-evidence'), true);
  // Even a hand-made URL is refused by the server (and audited there).
  const status = await page.evaluate(async (id) => {
    const tok = JSON.parse(sessionStorage.getItem('vigil.session')).token;
    const a = await fetch(`/api/v1/events/${encodeURIComponent(id)}/clip.mp4`, { headers: { Authorization: 'Bearer ' + tok } });
    const b = await fetch(`/api/v1/events/${encodeURIComponent(id)}/clip.mp4?access_token=${encodeURIComponent(tok)}`);
    const c = await fetch(`/api/v1/events/${encodeURIComponent(id)}/snapshot.jpg`, { headers: { Authorization: 'Bearer ' + tok } });
    return [a.status, b.status, c.status];
  }, handledId);
  assert.equal(status[0], 403, 'viewer clip download refused');
  assert.equal(status[1], 403, 'viewer clip via URL token refused');
  assert.equal(status[2], 403, 'viewer snapshot refused');
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('health board, English switch, and a phone-sized screen', async () => {
  const page = await freshPage();
  await login(page, OP_USER, OP_PASS);
  await page.click('#tab-cameras');
  await page.waitForSelector('#camera-board .cam');
  // Rates come from the health endpoint; wait until they are filled in.
  await page.waitForFunction(() => [...document.querySelectorAll('#camera-board .cam .rate span')].some((s) => /%$/.test(s.textContent)), null, { timeout: 20000 });
  const cams = await page.$$eval('#camera-board .cam', (cs) => cs.map((c) => ({ name: c.dataset.camera, state: c.dataset.state, text: c.textContent })));
  assert.ok(cams.length >= 1);
  for (const c of cams) {
    assert.ok(['online', 'reconnecting', 'offline', 'unknown'].includes(c.state), c.state);
    assert.match(c.text, /在线率/);
    assert.match(c.text, /出图率/);
  }
  // The live camera is online with a recent picture; the dead one is retrying, not just off.
  const tower = cams.find((c) => c.name === 'tower');
  const dead = cams.find((c) => c.name === 'gate-dead');
  if (tower && dead) {
    assert.equal(tower.state, 'online');
    assert.equal(dead.state, 'reconnecting');
    assert.match(dead.text, /重连中/);
    await page.waitForFunction(() => {
      const img = document.querySelector('#camera-board .cam[data-camera="tower"] img.cam-thumb');
      return img && img.complete && img.naturalWidth > 0;
    }, null, { timeout: 30000 });
    assert.equal(await page.isVisible('#camera-board .cam[data-camera="gate-dead"] img.cam-thumb'), false, 'no picture from a dead camera');
  }
  assert.ok(await noHorizontalOverflow(page));
  await page.screenshot({ path: path.join(SHOTS, 'health-1366x768.png') });

  // English, and it sticks across a reload.
  await page.click('#main-view .lang-switch');
  assert.equal((await page.textContent('#tab-alarms')).trim(), 'Alarms');
  assert.match(await page.textContent('#camera-board'), /Online rate/);
  if (await page.$('#camera-board .cam[data-camera="gate-dead"]')) {
    assert.match(await page.textContent('#camera-board .cam[data-camera="gate-dead"]'), /Reconnecting/);
  }
  await page.reload();
  await page.waitForSelector('#main-view', { state: 'visible' });
  assert.equal((await page.textContent('#tab-cameras')).trim(), 'Camera health');
  await page.click('#main-view .lang-switch');
  assert.equal((await page.textContent('#tab-alarms')).trim(), '报警');

  // Phone: list and detail take turns, nothing scrolls sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  await page.click('#tab-alarms');
  await page.waitForSelector('#alarm-list .alarm');
  assert.ok(await noHorizontalOverflow(page), 'list fits a phone');
  await page.screenshot({ path: path.join(SHOTS, 'phone-list.png') });
  await page.click('#alarm-list .alarm');
  await page.waitForSelector('#detail-body', { state: 'visible' });
  assert.equal(await page.isVisible('#alarm-list'), false, 'detail replaces the list on a phone');
  assert.equal(await page.isVisible('#detail-close'), true);
  assert.ok(await noHorizontalOverflow(page), 'detail fits a phone');
  await page.screenshot({ path: path.join(SHOTS, 'phone-detail.png'), fullPage: true });
  await page.click('#detail-close');
  await page.waitForSelector('#alarm-list', { state: 'visible' });
  assert.deepEqual(page.errors, []);
  await page.close();
});

test('accounts: an admin disables and re-enables a user; an operator changes their own password', async () => {
  const [AD_USER, AD_PASS] = (process.env.VIGIL_ADMIN || 'admin:').split(/:(.*)/s);
  const page = await freshPage();
  await login(page, AD_USER, AD_PASS);
  await page.click('#tab-accounts');
  await page.waitForSelector(`#users-body tr[data-user="${VW_USER}"]`);
  const names = await page.$$eval('#users-body tr', (trs) => trs.map((tr) => tr.dataset.user));
  assert.ok(names.includes(OP_USER) && names.includes(AD_USER), names.join(','));
  // Disable the viewer: the row says so and the viewer can no longer log in.
  await page.click(`#users-body tr[data-user="${VW_USER}"] .u-disable`);
  await page.waitForSelector(`#users-body tr[data-user="${VW_USER}"] .u-disabled`);
  const refused = await page.evaluate(async ([u, p]) => {
    const r = await fetch('/api/v1/auth/login', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: u, password: p }) });
    return r.status;
  }, [VW_USER, VW_PASS]);
  assert.equal(refused, 401, 'a disabled user logged in');
  await page.click(`#users-body tr[data-user="${VW_USER}"] .u-enable`);
  await page.waitForSelector(`#users-body tr[data-user="${VW_USER}"] .u-disable`);
  await page.screenshot({ path: path.join(SHOTS, 'accounts-admin.png') });
  assert.deepEqual(page.errors, []);
  await page.close();

  // The operator changes their password and keeps working on the fresh session.
  const op = await freshPage();
  await login(op, OP_USER, OP_PASS);
  await op.click('#tab-accounts');
  assert.equal(await op.isVisible('#users-admin'), false, 'user administration is for admins');
  await op.fill('#pw-current', OP_PASS);
  await op.fill('#pw-new', OP_PASS + '-2');
  await op.click('#pw-form button[type="submit"]');
  await op.waitForFunction(() => /密码已修改/.test(document.querySelector('#pw-msg').textContent));
  const st = await op.evaluate(async () => {
    const tok = JSON.parse(sessionStorage.getItem('vigil.session')).token;
    return (await fetch('/api/v1/events', { headers: { Authorization: 'Bearer ' + tok } })).status;
  });
  assert.equal(st, 200, 'the console continues on the new session');
  assert.equal(await op.isVisible('#main-view'), true);
  assert.deepEqual(op.errors, []);
  await op.close();
});

// Calibration in the console: the admin clicks facade features of the generated tower (their
// pixel positions, from the generator's true camera, come from tests/console.rs in
// VIGIL_CALIB_POINTS with their floor and column), types floor and column, sees the live fit
// and saves; tests/console.rs then compares the floors of the saved calibration with the
// TOML calibration's.
test('calibration: an admin places points on the snapshot, sees the fit live and saves', async (t) => {
  const points = JSON.parse(process.env.VIGIL_CALIB_POINTS || '[]');
  if (points.length < 4) {
    t.skip('VIGIL_CALIB_POINTS not given');
    return;
  }
  const [AD_USER, AD_PASS] = (process.env.VIGIL_ADMIN || 'admin:').split(/:(.*)/s);
  const page = await freshPage();
  await login(page, AD_USER, AD_PASS);
  await page.click('#tab-calib');
  await page.waitForSelector('#cal-camera option[value="tower"]', { state: 'attached' });
  await page.selectOption('#cal-camera', 'tower');
  // The snapshot exists once the camera analysed a frame; retry the load until it shows.
  for (let i = 0; i < 40; i++) {
    await page.click('#cal-load');
    try {
      await page.waitForFunction(() => document.querySelector('#cal-canvas').dataset.loaded === 'tower', null, { timeout: 1500 });
      break;
    } catch (e) {
      /* not yet */
    }
  }
  const size = await page.$eval('#cal-canvas', (c) => [c.width, c.height]);
  // The whole picture on screen (the page scrolls below the bar and the canvas).
  await page.setViewportSize({ width: 1366, height: 1600 });
  assert.deepEqual(size, JSON.parse(process.env.VIGIL_CALIB_SIZE || '[1280,720]'));
  for (let i = 0; i < points.length; i++) {
    const p = points[i];
    await page.evaluate(() => window.scrollTo(0, 0));
    const box = await page.locator('#cal-canvas').boundingBox();
    await page.mouse.click(box.x + (p.px[0] * box.width) / size[0], box.y + (p.px[1] * box.height) / size[1]);
    const row = page.locator(`#cal-body tr[data-point="${i}"]`);
    await row.locator('input.cal-floor').fill(String(p.floor));
    await row.locator('input.cal-floor').press('Tab');
    await row.locator('input.cal-column').fill(String(p.column));
    await row.locator('input.cal-column').press('Tab');
  }
  // The live fit: every point's error shown, small, and the save button enabled.
  await page.waitForFunction((n) => {
    const errs = [...document.querySelectorAll('#cal-body .cal-err')].map((td) => parseFloat(td.textContent));
    return errs.length === n && errs.every((e) => Number.isFinite(e)) && !document.querySelector('#cal-save').disabled;
  }, points.length, { timeout: 20000 });
  const errs = await page.$$eval('#cal-body .cal-err', (tds) => tds.map((td) => parseFloat(td.textContent)));
  assert.ok(errs.every((e) => e < 3), errs.join(','));
  assert.match(await page.textContent('#cal-summary'), /px/);
  await page.screenshot({ path: path.join(SHOTS, 'calibration.png') });
  await page.click('#cal-save');
  await page.waitForFunction(() => document.querySelector('#cal-msg').dataset.saved === 'true', null, { timeout: 20000 });
  assert.match(await page.textContent('#cal-msg'), /已保存|saved/);
  // The coverage view under the saved calibration: windows coloured on the picture.
  await page.click('#cal-coverage');
  await page.waitForFunction(() => document.querySelector('#cal-canvas').dataset.coverage === 'shown', null, { timeout: 20000 });
  assert.match(await page.textContent('#cal-msg'), /可见楼层 \d+–\d+/);
  await page.screenshot({ path: path.join(SHOTS, 'coverage.png') });
  assert.deepEqual(page.errors, []);
  await page.close();
});
