'use strict';
// The editor's "cluster" sidebar tab in headless Chromium: two Node-RED processes in one cluster; B's
// editor lists both instances live (presence, role, what each publishes, B's own subscriptions, the
// groups each is in, the group A leads with its token, the cluster's groups with members and leader);
// when A stops, A's row goes offline and its leadership disappears in the open page without a reload. Screenshots: test/screenshots/sidebar.png
// with NRC_UPDATE_SCREENSHOTS=1, else a temp dir.
const test = require('node:test');
const assert = require('node:assert/strict');
const fs = require('fs');
const path = require('path');
const { startServer } = require('./support/nats-server');
const { startNodeRed } = require('./support/nodered');
const { until, screenshotDir } = require('./support/util');

const PKG = path.join(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));
let chromium = null;
try { chromium = require('playwright-core').chromium; } catch (_) { /* optional */ }
const SHOTS = screenshotDir();
const PASS = 'sidebar-secret-pw';

test('editor sidebar: instances of the cluster, live', { skip: (!CHROMIUM || !chromium) && 'chromium or playwright-core missing', timeout: 180000 }, async () => {
  const server = await startServer({ user: 'nodered', password: PASS });
  const A = await startNodeRed({ packageDir: PKG });
  const B = await startNodeRed({ packageDir: PKG });
  let browser;
  try {
    const creds = { natsUser: 'nodered', natsPass: PASS };
    await A.deploy([
      { id: 'ta', type: 'tab', label: 'A' },
      { id: 'ca', type: 'ClusterConfigNode', instanceId: 'plant-a', zkRootPath: '/nodered-cluster', natsAddress: server.address, role: 'Member', credentials: creds },
      { id: 'p1', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: 'sensors.temperature', mode: 'Durable', ttl: 30, x: 300, y: 80, wires: [] },
      { id: 'p2', type: 'ClusterPublishNode', z: 'ta', clusterConfig: 'ca', subject: 'sensors.pressure', mode: 'Ephemeral', ttl: 10, x: 300, y: 140, wires: [] },
      { id: 'ga', type: 'ClusterSubscribeNode', z: 'ta', clusterConfig: 'ca', subjectPattern: '*.jobs.>', delivery: 'group', group: 'workers', x: 300, y: 200, wires: [[]] },
      { id: 'la', type: 'ClusterLeaderNode', z: 'ta', clusterConfig: 'ca', group: 'poller', lease: 2, x: 300, y: 260, wires: [[], []] },
    ]);
    await B.deploy([
      { id: 'tb', type: 'tab', label: 'Flow 1' },
      { id: 'cb', type: 'ClusterConfigNode', name: 'plant cluster', instanceId: 'plant-b', zkRootPath: '/nodered-cluster', natsAddress: server.address, role: 'Observer', credentials: creds },
      { id: 's1', type: 'ClusterSubscribeNode', z: 'tb', clusterConfig: 'cb', subjectPattern: 'plant-a.sensors.>, *.alarms.*', x: 200, y: 80, wires: [[]] },
      { id: 'gb', type: 'ClusterSubscribeNode', z: 'tb', clusterConfig: 'cb', subjectPattern: '*.jobs.>', delivery: 'group', group: 'workers', x: 200, y: 140, wires: [[]] },
    ]);

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(B.url);
    await page.waitForFunction(() => window.RED && RED.sidebar && RED.nodes.node('cb') && $('#red-ui-tab-nats-cluster').length, null, { timeout: 60000 });
    await page.evaluate(() => { window.nrcNoReload = true; $('.red-ui-notification').remove(); RED.sidebar.show('nats-cluster'); });
    const sidebar = page.locator('.nrc-sidebar');
    await sidebar.waitFor({ state: 'visible' });

    // Both instances online, with what A publishes and what B subscribes to.
    const row = (id) => page.locator(`.nrc-config[data-config="cb"] .nrc-instance[data-instance="${id}"]`);
    await page.waitForFunction(() => ['plant-a', 'plant-b'].every((id) => $(`.nrc-config[data-config="cb"] .nrc-instance[data-instance="${id}"][data-presence="online"]`).length)
      && $('.nrc-config[data-config="cb"] .nrc-instance[data-instance="plant-a"] .nrc-subject').length === 2, null, { timeout: 30000 });
    assert.equal(await page.getAttribute('.nrc-config[data-config="cb"]', 'data-status'), 'connected');
    assert.match(await page.innerText('.nrc-config[data-config="cb"] .nrc-head'), /plant cluster[\s\S]*connected/);
    assert.deepEqual(await row('plant-a').locator('.nrc-subject').allInnerTexts(), ['sensors.pressure', 'sensors.temperature']);
    assert.match(await row('plant-a').locator('.nrc-subscribes').innerText(), /not known/);
    assert.deepEqual(await row('plant-b').locator('.nrc-pattern').allInnerTexts(), ['plant-a.sensors.>', '*.alarms.*', '*.jobs.>']);
    assert.match(await row('plant-b').locator('.nrc-line').first().innerText(), /plant-b\s*this Node-RED\s*Observer/);
    assert.match(await row('plant-b').locator('.nrc-state').innerText(), /online · last seen \d+ s ago/);
    assert.match(await row('plant-a').innerText(), /plant-a\s*Member\s*online · last seen/);
    assert.ok(!(await sidebar.innerText()).includes(PASS));
    // Groups and leaders: both in "workers"; A leads "poller" (its ClusterLeaderNode) with a token > 0.
    const group = (g) => page.locator(`.nrc-config[data-config="cb"] .nrc-groupinfo[data-group="${g}"]`);
    await page.waitForFunction(() => $('.nrc-config[data-config="cb"] .nrc-groupinfo[data-group="poller"]').attr('data-leader') === 'plant-a'
      && $('.nrc-config[data-config="cb"] .nrc-groupinfo[data-group="workers"] .nrc-members').text().includes('plant-b'), null, { timeout: 30000 });
    assert.deepEqual(await row('plant-a').locator('.nrc-group').allInnerTexts(), ['workers']);
    assert.deepEqual(await row('plant-b').locator('.nrc-group').allInnerTexts(), ['workers']);
    const lead = await row('plant-a').locator('.nrc-lead').innerText();
    const token = Number((/^leader of poller \(token (\d+)\)$/.exec(lead) || [])[1]);
    assert.ok(token > 0, lead);
    assert.equal(await row('plant-b').locator('.nrc-lead').count(), 0);
    assert.match(await group('workers').innerText(), /^workers\s*members: plant-a, plant-b$/);
    assert.match(await group('poller').innerText(), new RegExp(`^poller\\s*leader: plant-a \\(token ${token}\\)$`));
    // Heartbeats move "last seen" on in the open page.
    const seen = Number(await row('plant-a').locator('.nrc-seen').getAttribute('data-last-seen'));
    assert.ok(seen > 0);
    await page.waitForFunction((s) => Number($('.nrc-config[data-config="cb"] .nrc-instance[data-instance="plant-a"] .nrc-seen').attr('data-last-seen')) > s, seen, { timeout: 30000 });
    await page.screenshot({ path: path.join(SHOTS, 'sidebar.png') });

    // A stops cleanly: its row turns offline ("left") in the page as it is.
    await A.stop();
    await page.waitForFunction(() => $('.nrc-config[data-config="cb"] .nrc-instance[data-instance="plant-a"]').attr('data-online') === 'false', null, { timeout: 30000 });
    assert.ok(['offline', 'left'].includes(await row('plant-a').getAttribute('data-presence')));
    assert.match(await row('plant-a').locator('.nrc-state').innerText(), /(offline|left) · last seen \d+ s ago/);
    assert.equal(await row('plant-b').getAttribute('data-presence'), 'online');
    // Its lease was released on the clean stop: no leader shown for "poller" any more.
    await page.waitForFunction(() => !$('.nrc-config[data-config="cb"] .nrc-groupinfo[data-leader="plant-a"]').length
      && !$('.nrc-config[data-config="cb"] .nrc-lead').length, null, { timeout: 30000 });
    assert.equal(await page.evaluate(() => window.nrcNoReload), true, 'no reload');
    await page.screenshot({ path: path.join(SHOTS, 'sidebar-offline.png') });

    // B's configuration removed by a deploy: its section goes away.
    await B.deploy([{ id: 'tb', type: 'tab', label: 'Flow 1' }]);
    await page.waitForFunction(() => $('.nrc-config').length === 0 && $('.nrc-empty').is(':visible'), null, { timeout: 20000 });
  } finally {
    if (browser) await browser.close();
    await Promise.all([A.stop(), B.stop()]);
    await server.stop();
    server.cleanup();
  }
});
