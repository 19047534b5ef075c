// Drives the dashboard in headless Chromium (Debian's package, through playwright-core):
// the runs list renders, an uploaded photo shows its mask overlay; saves a screenshot.
//   node dashboard.mjs URL PHOTO SCREENSHOT.png
import { chromium } from 'playwright-core';

const [url, photo, shot] = process.argv.slice(2);
if (!url || !photo || !shot) {
  console.error('usage: node dashboard.mjs URL PHOTO SCREENSHOT.png');
  process.exit(2);
}
const fail = (what) => { console.error(`FAIL: ${what}`); process.exitCode = 1; };

const browser = await chromium.launch({
  executablePath: process.env.WMS_CHROMIUM || '/usr/bin/chromium',
  args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
         '--disable-background-networking', '--disable-extensions', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 900 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => {  // nothing may leave the server (no CDN): only its own URLs and blobs
    if (!r.url().startsWith(url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) errors.push(`external request: ${r.url()}`);
  });
  await page.goto(url, { waitUntil: 'load' });

  // The runs list: one row per pipeline run, with its outcome and job chips.
  await page.waitForSelector('#runs tbody tr.pick', { timeout: 20000 });
  const rows = await page.$$eval('#runs tbody tr.pick', (trs) => trs.map((tr) => tr.innerText));
  console.log(`runs listed: ${rows.length}`);
  if (!rows.some((r) => r.includes('improved'))) fail(`no improved run in the list: ${JSON.stringify(rows)}`);
  const chips = await page.$$eval('#runs tbody tr.pick:first-child .chip', (c) => c.length);
  if (chips !== 6) fail(`expected 6 job chips in the first run, saw ${chips}`);
  await page.waitForFunction(() => document.querySelector('#ready').textContent.startsWith('serving model version'),
                             null, { timeout: 20000 });
  await page.waitForSelector('#models tbody tr', { timeout: 20000 });

  // Upload a photo: the mask overlay appears with the prediction's summary.
  await page.setInputFiles('#photo', photo);
  await page.waitForFunction(() => {
    const img = document.querySelector('#overlay');
    return img.complete && img.naturalWidth > 0 && document.querySelector('#pred').textContent.startsWith('model ');
  }, null, { timeout: 30000 });
  const size = await page.$eval('#overlay', (img) => [img.naturalWidth, img.naturalHeight]);
  const pred = await page.$eval('#pred', (e) => e.textContent);
  console.log(`overlay ${size[0]}x${size[1]}; ${pred}`);
  // The overlay is the photo at its own size (EXIF applied) with the mask drawn over it.
  const m = pred.match(/: (\d+)×(\d+), area (\d+) px/);
  if (!m) fail(`unexpected prediction summary: ${pred}`);
  else if (+m[1] !== size[0] || +m[2] !== size[1]) fail(`overlay ${size} is not the photo's size ${m[1]}x${m[2]}`);
  if (errors.length) fail(`page errors: ${errors.join('; ')}`);
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);
} finally {
  await browser.close();
}
