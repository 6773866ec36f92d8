// sso_check.mjs - signs in to maskgate's console through Apache +
// mod_auth_openidc and the test OpenID provider (tests/e2e/mock_oidc.py),
// in Debian's chromium driven by playwright-core, as one user.
//
//   node sso_check.mjs BASE_URL USER EXPECT ARTIFACT_DIR
//
// EXPECT: "admin" (the console opens as sso:<email>; an admin key is created
// from the key form), "denied" (maskgate answers 403) or "untrusted" (maskgate
// does not trust the web server's identity: the key sign-in form).
// Prints one JSON line with what it saw; exits non-zero on a failed check.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import path from 'node:path';

const [base, user, expect, outDir] = process.argv.slice(2);
const seen = { user, expect, final: null, status: null, newKey: null, actor: null };

function check(cond, what) {
  if (!cond) throw new Error('check failed: ' + what);
}

const userDataDir = fs.mkdtempSync(path.join(outDir, 'chromium-sso-'));
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  viewport: { width: 1280, height: 900 },
});
context.setDefaultTimeout(15000);

try {
  const page = context.pages()[0] || await context.newPage();
  // maskgate's console sends us to the provider's sign-in page
  await page.goto(base + '/ui/keys');
  check(page.url().includes('/authorize?'), `redirected to the provider (${page.url()})`);
  check(/code_challenge_method=S256/.test(page.url()), 'the request uses PKCE S256');
  await page.fill('#user', user);
  const [resp] = await Promise.all([
    page.waitForNavigation({ url: (u) => u.pathname.startsWith('/ui/') &&
      !u.pathname.startsWith('/ui/oidc') }),
    page.click('button[type=submit]'),
  ]);
  seen.final = new URL(page.url()).pathname;
  seen.status = resp ? resp.status() : null;
  const html = await page.content();
  await page.screenshot({ path: path.join(outDir, `sso-${user}-${expect}.png`), fullPage: true });
  if (expect === 'admin') {
    check(seen.status === 200 && seen.final === '/ui/keys', `console opens (${seen.status})`);
    const m = html.match(/Signed in as ([^<]+)</);
    seen.actor = m && m[1];
    check(seen.actor && seen.actor.startsWith('sso:'), `signed in by SSO (${seen.actor})`);
    // create an admin key from the console's form (CSRF token of the SSO identity)
    await page.fill('#new-key_alias', 'sso-made-admin');
    await page.check('#new-admin');
    await Promise.all([page.waitForNavigation(), page.click('button:has-text("Create key")')]);
    seen.newKey = (await page.textContent('#newkey')).trim();
    check(seen.newKey.startsWith('sk-'), 'the new key is shown once');
    const listed = await page.content();
    check(listed.includes('active, admin'), 'the new key is listed as an admin key');
  } else if (expect === 'denied') {
    check(seen.status === 403, `a non-member gets 403 (${seen.status})`);
    check(html.includes('not a member'), 'the page says why');
  } else {
    check(seen.final === '/ui/login', `untrusted identity: the key sign-in (${seen.final})`);
  }
  console.log(JSON.stringify(seen));
} finally {
  await context.close();
  fs.rmSync(userDataDir, { recursive: true, force: true });
}
