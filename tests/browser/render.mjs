// Renders rtcprobe HTML reports in headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) and prints one JSON line per report: what the browser drew, every console
// message of level error/warning, every page error and every network request besides the
// report itself. tests/report_browser.rs runs it and asserts on the result.
//
//   node render.mjs OUT_DIR REPORT.html[=shot.png] ...
//
// A report given as `file=shot.png` is also screenshotted (viewport 1280x900 and the first
// screen only, to keep the PNG small) into OUT_DIR/shot.png, and the plots of its worst stream
// into OUT_DIR/shot-plots.png.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [outDir, ...reports] = process.argv.slice(2);
if (!outDir || reports.length === 0) {
  console.error('usage: node render.mjs OUT_DIR REPORT.html[=shot.png] ...');
  process.exit(2);
}
const profile = mkdtempSync(join(tmpdir(), 'rtcprobe-chromium-'));
const browser = await chromium.launchPersistentContext(profile, {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  for (const arg of reports) {
    const [file, shot] = arg.split('=');
    const url = pathToFileURL(resolve(file)).href;
    const page = await browser.newPage();
    const console_ = [];
    const requests = [];
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') console_.push(`${m.type()}: ${m.text()}`);
    });
    page.on('pageerror', (e) => console_.push(`pageerror: ${e.message}`));
    page.on('request', (r) => { if (r.url() !== url) requests.push(r.url()); });
    await page.goto(url, { waitUntil: 'load', timeout: 60000 });
    const drawn = await page.evaluate(() => {
      const charts = [...document.querySelectorAll('svg.chart')];
      const withData = charts.filter((c) => Number(c.dataset.points) > 0);
      // A chart with data must show it: a polyline with a real length, or a dot.
      const drawnLines = withData.filter((c) => [...c.querySelectorAll('polyline, circle')]
        .some((e) => { const b = e.getBBox(); return b.width > 0 || b.height > 0; })).length;
      const points = withData.reduce((n, c) => n + Number(c.dataset.points), 0);
      return {
        title: document.title,
        charts: charts.length,
        chartsWithData: withData.length,
        chartsDrawn: drawnLines,
        points,
        articles: document.querySelectorAll('article.stream').length,
        rows: document.querySelectorAll('#streams tbody tr').length,
        verdict: [...document.querySelectorAll('ul.verdict li')].map((l) => l.textContent),
        csp: document.querySelector('meta[http-equiv="Content-Security-Policy"]')?.content ?? null,
      };
    });
    if (shot) {
      await page.screenshot({ path: join(outDir, shot), fullPage: false });
      const first = page.locator('article.stream').first();
      if (await first.count()) {
        await first.screenshot({ path: join(outDir, shot.replace(/\.png$/, '-plots.png')) });
      }
    }
    console.log(JSON.stringify({ file, ...drawn, console: console_, requests }));
    await page.close();
  }
} catch (e) {
  console.error(e);
  failed = true;
} finally {
  await browser.close();
  rmSync(profile, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
