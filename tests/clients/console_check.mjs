// console_check.mjs - drives maskgate's admin console in Debian's chromium
// (playwright-core, no browser download) the way an admin would, and
// validates every page's HTML with html-validate, offline.
//
//   node console_check.mjs BASE_URL MASTER_KEY ARTIFACT_DIR
//
// Prints one JSON line with what it saw; exits non-zero on the first
// failed check (the message names it). Screenshots go to ARTIFACT_DIR.
import { chromium } from 'playwright-core';
import { HtmlValidate } from 'html-validate';
import fs from 'node:fs';
import path from 'node:path';

const [base, master, outDir] = process.argv.slice(2);
const origin = new URL(base).origin;
const ALIAS = 'browser-alice';
const EC2 = 'i-0a1b2c3d4e5f60718';
const seen = { pages: {}, screenshots: [], foreign: [] };

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

const validator = new HtmlValidate({
  extends: ['html-validate:recommended'],
});

async function validate(name, html) {
  const report = await validator.validateString(html);
  const msgs = report.results.flatMap((r) => r.messages.map((m) =>
    `${m.ruleId} line ${m.line}: ${m.message}`));
  check(report.valid, `${name}: HTML is valid (${msgs.slice(0, 20).join('; ')})`);
}

// Every visible form control has a label (a <label for>, a wrapping
// label or aria-label): what a screen reader announces.
async function labelsOk(page, name) {
  const unlabelled = await page.evaluate(() => [...document.querySelectorAll(
    'input:not([type=hidden]), select, textarea, button')].filter((el) => {
    if (el.tagName === 'BUTTON') return !(el.textContent.trim() || el.getAttribute('aria-label'));
    return !(el.labels && el.labels.length) && !el.getAttribute('aria-label');
  }).map((el) => el.outerHTML.slice(0, 80)));
  check(unlabelled.length === 0, `${name}: every form control is labelled (${unlabelled})`);
}

// Tab from the top of the page until target has focus: keyboard users
// reach the form. Returns how many presses it took.
async function tabTo(page, selector, max = 200) {
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  for (let i = 1; i <= max; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((s) => document.activeElement === document.querySelector(s),
      selector)) return i;
  }
  throw new Error(`check failed: Tab never reached ${selector}`);
}

async function shot(page, name) {
  const file = path.join(outDir, `console-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  seen.screenshots.push(file);
}

// Loads a console page, checks status, validity and labels, screenshots it.
async function visit(page, name, url, status = 200) {
  const resp = await page.goto(base + url);
  check(resp.status() === status, `${name}: status ${resp.status()} is ${status}`);
  const html = await resp.text();
  await validate(name, html);
  await labelsOk(page, name);
  await shot(page, name);
  seen.pages[name] = resp.status();
  return html;
}

async function proxied(key) {
  const r = await fetch(base + '/v1/messages', {
    method: 'POST',
    headers: { 'x-api-key': key, 'content-type': 'application/json',
      'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'claude-sonnet-4-5', max_tokens: 16,
      messages: [{ role: 'user', content: `Why is ${EC2} slow?` }] }),
  });
  await r.text();
  return r.status;
}

const userDataDir = fs.mkdtempSync(path.join(outDir, 'chromium-profile-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
context.setDefaultTimeout(15000);
context.on('request', (req) => {
  const u = req.url();
  if (!u.startsWith('data:') && !u.startsWith('about:') && new URL(u).origin !== origin)
    seen.foreign.push(u);
});

try {
  const page = context.pages()[0] || await context.newPage();

  // signed out, every page leads to the sign-in form
  let resp = await page.goto(base + '/ui/keys');
  check(new URL(page.url()).pathname === '/ui/login', 'signed out: /ui/keys leads to /ui/login');
  const loginHtml = await resp.text();
  await validate('login', loginHtml);
  await labelsOk(page, 'login');
  await shot(page, 'login');
  check(!/<script/i.test(loginHtml), 'login: no script');
  const csp = resp.headers()['content-security-policy'] || '';
  check(/default-src 'none'/.test(csp) && !/unsafe-inline/.test(csp), `CSP is strict (${csp})`);

  // a wrong key is refused
  await page.fill('#key', 'sk-not-a-real-key-00000000000000000000000000000000');
  [resp] = await Promise.all([page.waitForNavigation(), page.press('#key', 'Enter')]);
  check(resp.status() === 401, `wrong key: 401 (got ${resp.status()})`);

  // sign in with the keyboard only: Tab to the field, type, Enter
  seen.tabs_to_key = await tabTo(page, '#key');
  await page.keyboard.type(master);
  [resp] = await Promise.all([page.waitForNavigation(), page.keyboard.press('Enter')]);
  check(new URL(page.url()).pathname === '/ui/keys', `signed in: on /ui/keys (${page.url()})`);

  // the session cookie's attributes
  const cookies = await context.cookies(base + '/ui/keys');
  const sess = cookies.find((c) => c.name === 'mg_console');
  check(sess, 'session cookie set');
  check(sess.httpOnly === true, 'cookie HttpOnly');
  check(sess.sameSite === 'Strict', `cookie SameSite=Strict (${sess.sameSite})`);
  check(sess.path === '/ui', `cookie Path=/ui (${sess.path})`);
  check(sess.secure === false, 'cookie not Secure over plain http');
  const ttl = sess.expires - Date.now() / 1000;
  check(ttl > 0 && ttl <= 3600 + 5, `cookie short-lived (${ttl}s)`);
  check(sess.value.length === 64 && sess.value !== master, 'cookie is a random token, not the key');
  seen.cookie = { httpOnly: sess.httpOnly, sameSite: sess.sameSite, path: sess.path, ttl };

  await visit(page, 'keys-empty', '/ui/keys');
  seen.tabs_to_create = await tabTo(page, '#new-key_alias');

  // create a key through the form
  await page.fill('#new-key_alias', ALIAS);
  await page.fill('#new-user_id', 'alice');
  await page.fill('#new-team_id', 'platform');
  await page.fill('#new-models', 'claude-sonnet-4-5, claude-haiku-4-5');
  await page.fill('#new-max_budget', '5');
  await page.fill('#new-budget_duration', '30d');
  await page.fill('#new-rpm_limit', '60');
  await page.fill('#new-tpm_limit', '100000');
  await page.fill('#new-max_parallel_requests', '2');
  await page.fill('#new-duration', '30d');
  [resp] = await Promise.all([page.waitForNavigation(),
    page.click('button:has-text("Create key")')]);
  check(resp.status() === 200, `create: 200 (got ${resp.status()})`);
  const created = await resp.text();
  await validate('key-created', created);
  const key = (await page.textContent('#newkey')).trim();
  check(/^sk-[0-9a-f]{64}$/.test(key), 'the new key is shown');
  await shot(page, 'key-created');

  // listed, searchable, and never shown again
  const keysHtml = await visit(page, 'keys', '/ui/keys');
  check(keysHtml.includes(ALIAS), 'the new key is listed');
  check(!keysHtml.includes(key), 'the raw key is not shown again');
  check(!keysHtml.includes(master), 'the master key is never shown');
  let html = await (await page.goto(`${base}/ui/keys?q=${ALIAS}&by=alias`)).text();
  check(html.includes(`<td>${ALIAS}`), 'search by alias finds it');
  html = await (await page.goto(`${base}/ui/keys?q=platform&by=team`)).text();
  check(html.includes(`<td>${ALIAS}`), 'search by team finds it');
  html = await (await page.goto(`${base}/ui/keys?q=nobody&by=user`)).text();
  check(!html.includes(`<td>${ALIAS}`), 'search by another user does not');

  // a proxied request with the key, then its spend
  check(await proxied(key) === 200, 'proxied request with the new key: 200');
  // its spend is written just after the response: wait for it, briefly
  for (let i = 0; i < 100; i++) {
    const r = await fetch(`${base}/key/info?key=${key}`, { headers: { 'x-api-key': master } });
    if ((await r.json()).info?.spend > 0) break;
    await new Promise((done) => setTimeout(done, 20));
  }
  html = await visit(page, 'spend', '/ui/spend?group=key&period=day');
  check(html.includes(`<td>${ALIAS} (`), 'spend table lists the key');
  // the mock's usage: 10 input and 5 output tokens of claude-sonnet-4-5
  check(html.includes('$0.000105'), 'spend table shows the request\'s cost');
  check(await page.locator(`svg rect title:has-text("${ALIAS}")`).count() === 1,
    'the per-key chart has a bar for the key');
  check(await page.locator('svg').count() === 2, 'two charts, inline SVG');
  html = await visit(page, 'spend-model-month', '/ui/spend?group=model&period=month');
  check(html.includes('claude-sonnet-4-5'), 'spend per model');
  const csv = await context.request.get(base + '/ui/spend.csv?group=user&period=week');
  check(csv.status() === 200 && /text\/csv/.test(csv.headers()['content-type']), 'CSV export');
  const csvText = await csv.text();
  check(/^bucket_start,group,label,requests/.test(csvText) && csvText.includes('"alice"'),
    'CSV has the user');
  seen.csv = csvText.split('\r\n').length - 1;

  // the usage anomaly (the test server's floor is one request)
  html = await (await page.goto(base + '/ui/keys')).text();
  check(html.includes('Usage anomaly') && html.includes('anomaly: requests'),
    'the key is flagged as a usage anomaly');

  // block it from its row; the next proxied request is refused
  await page.goto(base + '/ui/keys');
  [resp] = await Promise.all([page.waitForNavigation(),
    page.click(`button[aria-label="Block ${ALIAS}"]`)]);
  html = await page.content();
  check(html.includes('Key blocked'), 'block: confirmed');
  check(await page.locator(`button[aria-label="Unblock ${ALIAS}"]`).count() === 1,
    'block: the row offers Unblock');
  const refused = await proxied(key);
  check(refused === 401, `blocked key refused (got ${refused})`);

  // CSRF: a POST without the token, or with a wrong one, changes nothing
  const hash = await page.getAttribute(
    `form[action="/ui/keys/unblock"] input[name="key"]`, 'value');
  let r = await context.request.post(base + '/ui/keys/unblock', { form: { key: hash } });
  check(r.status() === 403, `POST without CSRF token: 403 (got ${r.status()})`);
  r = await context.request.post(base + '/ui/keys/unblock',
    { form: { key: hash, csrf: '0'.repeat(64) } });
  check(r.status() === 403, `POST with a wrong CSRF token: 403 (got ${r.status()})`);
  check(await proxied(key) === 401, 'still blocked after the refused POSTs');

  // masking counts, audit entries, health
  html = await visit(page, 'masking', '/ui/masking');
  check(html.includes('EC2') && html.includes('team:platform'), 'masking counts per tenant and type');
  check(!html.includes(EC2), 'masking page shows no value');
  html = await visit(page, 'audit', '/ui/audit');
  for (const action of ['console_login', 'generate', 'block', 'usage_anomaly', 'console_csrf'])
    check(html.includes(`<td>${action}</td>`), `audit has ${action}`);
  check(/<td>master:[0-9a-f]{12}<\/td><td>block<\/td>/.test(html), 'audit names the signed-in admin');
  html = await visit(page, 'audit-filtered', '/ui/audit?action=block&actor=master');
  check((html.match(/<td>block<\/td>/g) || []).length === 1 && !html.includes('<td>generate</td>'),
    'audit filters by action');
  html = await visit(page, 'health', '/ui/health');
  check(html.includes('<strong>ready</strong>') && html.includes('rules loaded'), 'health: ready');

  // sign out: the cookie is gone and the old value no longer works
  const old = (await context.cookies(base + '/ui/keys')).find((c) => c.name === 'mg_console').value;
  await page.goto(base + '/ui/keys');
  [resp] = await Promise.all([page.waitForNavigation(), page.click('button:has-text("Sign out")')]);
  check(new URL(page.url()).pathname === '/ui/login', 'signed out');
  const reuse = await fetch(base + '/ui/keys', { headers: { cookie: `mg_console=${old}` },
    redirect: 'manual' });
  check(reuse.status === 303, `the old session no longer works (${reuse.status})`);

  check(seen.foreign.length === 0, `nothing loaded from outside ${origin}: ${seen.foreign}`);
  console.log(JSON.stringify(seen));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
