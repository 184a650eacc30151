// web.test.mjs: kiroku-agent's web form as a teacher uses it, in headless Chromium (Debian's, driven by
// playwright-core), and as an attacker would try it (raw HTTP). Run by tests/e2e/test_web.sh, which starts
// `kiroku-agent web` on a prepared store and sets:
//   KIROKU_WEB_URL          http://127.0.0.1:PORT (the form)
//   KIROKU_WEB_SCREENSHOTS  directory for a screenshot of each page
//   KIROKU_AGENT            the kiroku-agent binary, and KIROKU_WEB_DATA_DIR its data directory
//   KIROKU_WEB_REVIEWED     id of a record the hub reviewed, with a resolved and an open conflict
//   KIROKU_CHROMIUM         the browser (default /usr/bin/chromium)
// The tests run in order and share one browser session, like one person at the PC.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { chromium } from 'playwright-core';

const base = process.env.KIROKU_WEB_URL;
const shots = process.env.KIROKU_WEB_SCREENSHOTS;
const agentBin = process.env.KIROKU_AGENT;
const dataDir = process.env.KIROKU_WEB_DATA_DIR;
const reviewed = process.env.KIROKU_WEB_REVIEWED;
for (const [name, value] of Object.entries({ KIROKU_WEB_URL: base, KIROKU_WEB_SCREENSHOTS: shots,
	KIROKU_AGENT: agentBin, KIROKU_WEB_DATA_DIR: dataDir, KIROKU_WEB_REVIEWED: reviewed })) {
	if (!value) throw new Error(`${name} is not set: run this through tests/e2e/test_web.sh`);
}
const { port } = new URL(base);

let browser, context, page;
let recordedId; // the incident recorded through the form

// The line of `kiroku-agent show ID` for one field: "LABEL (name): VALUE  [VERSION NODE]".
function showLine(id, name) {
	const out = execFileSync(agentBin, ['--data-dir', dataDir, 'show', id, '--lang', 'en'], { encoding: 'utf8' });
	const line = out.split('\n').find((l) => l.includes(`(${name}):`));
	assert.ok(line, `kiroku-agent show ${id} has a line for ${name}`);
	return line;
}

function agentEdit(id, field, value) {
	execFileSync(agentBin, ['--data-dir', dataDir, 'edit', id, '--set', `${field}=${value}`], { encoding: 'utf8' });
}

async function shot(name, p = page) {
	mkdirSync(shots, { recursive: true });
	await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

function agentList() {
	return execFileSync(agentBin, ['--data-dir', dataDir, 'list', '--format', 'tsv'], { encoding: 'utf8' });
}

// One raw HTTP request, with whatever Host, Origin and cookies the test wants (a browser would not let it).
function request({ method = 'GET', pathname = '/', headers = {}, body = '' }) {
	return new Promise((resolve, reject) => {
		const req = http.request({ host: '127.0.0.1', port, method, path: pathname,
			headers: { 'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
			let data = '';
			res.setEncoding('utf8');
			res.on('data', (c) => { data += c; });
			res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: data }));
		});
		req.on('error', reject);
		req.end(body);
	});
}

// The session cookie and CSRF token of the browser's session, for raw requests that pretend to be the page.
async function session() {
	const cookies = await context.cookies(base);
	const cookie = cookies.find((c) => c.name.startsWith('kiroku_session_'));
	assert.ok(cookie, 'the page set a session cookie');
	await page.goto(`${base}/new/incident`);
	const token = await page.locator('form.record input[name=csrf]').inputValue();
	assert.match(token, /^[0-9a-f]{64}$/);
	return { cookie: `${cookie.name}=${cookie.value}`, token };
}

const incidentForm = (token, extra = {}) => new URLSearchParams({ csrf: token, occurred_at: '2026-11-21T09:00',
	category: '紛失', description: '攻撃者が送ったつもりの記録', ...extra }).toString();

describe('the local web form', () => {
	before(async () => {
		browser = await chromium.launch({ executablePath: process.env.KIROKU_CHROMIUM || '/usr/bin/chromium',
			args: ['--no-sandbox', '--disable-gpu', '--lang=ja-JP'],
			// A Japanese PC: date fields read 年/月/日 (needs Debian's chromium-l10n).
			env: { ...process.env, LANG: 'ja_JP.UTF-8', LANGUAGE: 'ja', LC_ALL: 'ja_JP.UTF-8' } });
		context = await browser.newContext({ locale: 'ja-JP', timezoneId: 'Asia/Tokyo',
			viewport: { width: 1366, height: 768 } });
		page = await context.newPage();
	});

	after(async () => {
		await browser?.close();
	});

	it('opens in Japanese with what to record, the sync state and the records', async () => {
		const res = await page.goto(`${base}/`);
		assert.equal(res.status(), 200);
		assert.equal(await page.getAttribute('html', 'lang'), 'ja');
		await assert.doesNotReject(page.getByRole('heading', { level: 1, name: '記録する' }).waitFor());
		// The hub is down since the last sync: the page says so, and that records are safe.
		const sync = page.locator('section.sync');
		assert.match(await sync.innerText(), /区役所（ハブ）に接続できませんでした/);
		assert.match(await sync.innerText(), /記録はこのPCに保存されています/);
		assert.match(await sync.innerText(), /最後に同期した日時\s+\d{4}-\d{2}-\d{2} \d{2}:\d{2}/);
		assert.equal(await page.locator('#records tbody tr').count() >= 2, true);
		await shot('01-home');
	});

	it('shows every record form a teacher uses, generated from the catalogue', async () => {
		for (const [kind, heading] of [['pi_handling', '保有個人情報の取扱状況の記録'], ['training', '一般教育・職場教育'],
			['self_inspection', '自己点検']]) {
			await page.goto(`${base}/`);
			await page.click(`#new-${kind}`);
			await page.getByRole('heading', { level: 1, name: heading }).waitFor();
			await shot(`02-form-${kind}`);
		}
		// The self-inspection's questions are radio groups, each labelled by its question.
		const q01 = page.getByRole('group', { name: /一般教育・職場教育を全員が受講した/ });
		assert.equal(await q01.getByRole('radio').count(), 3);
	});

	it('records an incident in Japanese: an invalid value is shown next to its field', async () => {
		await page.goto(`${base}/`);
		await page.click('#new-incident');
		await page.getByRole('heading', { level: 1, name: 'セキュリティ事故等' }).waitFor();
		// Every input has a label; the recorder's name comes first.
		await page.getByLabel('報告者氏名').fill('山田 太郎');
		await page.getByLabel('発生日時').fill('2026-11-20T15:10');
		await page.getByLabel('事故等の区分').selectOption({ label: '紛失' });
		await page.getByLabel('媒体・経路').selectOption({ label: 'USBメモリ等' });
		await page.getByRole('group', { name: '個人情報の有無' }).getByLabel('はい').check();
		await page.getByLabel('影響を受けた本人の数').fill('たくさん');
		await page.getByLabel('事故等の内容').fill('校外学習の帰りにUSBメモリを紛失した。\n児童32名の連絡先が入っていた。');
		await shot('03-incident-filled');
		await page.getByRole('button', { name: '記録する' }).click();
		await page.locator('.error-summary').waitFor();

		// The error is next to the field, tied to it for screen readers, and the summary has the focus.
		const field = page.locator('#w-persons_affected');
		assert.match(await field.locator('.error').innerText(), /0 以上の整数で入力してください/);
		const input = page.getByLabel('影響を受けた本人の数');
		assert.equal(await input.getAttribute('aria-invalid'), 'true');
		assert.match(await input.getAttribute('aria-describedby'), /e-persons_affected/);
		assert.equal(await page.evaluate(() => document.activeElement?.id), 'errors');
		assert.match(await page.locator('.error-summary').innerText(), /入力内容を確認してください（1 件）/);
		// Nothing was lost, and nothing was recorded.
		assert.equal(await input.inputValue(), 'たくさん');
		assert.match(await page.getByLabel('事故等の内容').inputValue(), /児童32名/);
		assert.equal(await page.getByLabel('報告者氏名').inputValue(), '山田 太郎');
		assert.doesNotMatch(agentList(), /校外学習の帰りに/);
		await shot('04-incident-error');

		// A number typed with a Japanese input method (full-width) is fine.
		await input.fill('３２');
		await page.getByRole('button', { name: '記録する' }).click();
		await page.locator('#saved').waitFor();
		assert.match(page.url(), /\/record\/[0-9A-Z]{26}\?new=1$/);
		assert.match(await page.locator('#saved').innerText(), /記録しました/);
		assert.equal(await page.locator('#v-persons_affected dd').innerText(), '32');
		assert.equal(await page.locator('#v-category dd').innerText(), '紛失');
		assert.equal(await page.locator('#v-personal_info dd').innerText(), 'はい');
		assert.match(await page.locator('#v-description dd').innerText(), /校外学習の帰りに.*\n.*児童32名/);
		assert.equal(await page.locator('#v-status dd').innerText(), '報告済み');
		const id = await page.locator('#record-id').innerText();
		recordedId = id;
		writeFileSync(path.join(shots, 'recorded-id.txt'), `${id}\n`);
		await shot('05-incident-saved');

		// On the home page, and in `kiroku-agent list`.
		await page.goto(`${base}/`);
		const row = page.locator(`#r-${id}`);
		assert.match(await row.innerText(), /2026-11-20 15:10/);
		assert.match(await row.innerText(), /紛失 · 校外学習の帰りにUSBメモリを紛失した/);
		assert.match(await row.innerText(), /未確認/);
		const line = agentList().split('\n').find((l) => l.startsWith(id));
		assert.ok(line, `kiroku-agent list shows ${id}`);
		assert.match(line, /\tincident\tschool-12\t0\t2026-11-20T15:10\t/);
		assert.match(line, /校外学習の帰りにUSBメモリを紛失した/);
		assert.match(await page.locator('#outbox').innerText(), /^[1-9]/);
		await shot('06-home-after');
	});

	it('remembers who is recording for the rest of the browser session', async () => {
		await page.goto(`${base}/new/pi_handling`);
		assert.equal(await page.getByLabel('取扱者').inputValue(), '山田 太郎');
		// Training has no recorder field: the attendee is only filled in.
		await page.goto(`${base}/new/training`);
		assert.equal(await page.getByLabel('受講者').inputValue(), '山田 太郎');
		// A new browser session starts empty.
		const other = await browser.newContext({ locale: 'ja-JP' });
		const p2 = await other.newPage();
		await p2.goto(`${base}/new/pi_handling`);
		assert.equal(await p2.getByLabel('取扱者').inputValue(), '');
		await other.close();
	});

	it('corrects a record: only the fields changed are written, and nothing a sync changed meanwhile is lost', async () => {
		const id = recordedId;
		assert.ok(id, 'the incident recorded above');
		await page.goto(`${base}/record/${id}`);
		await page.click('#edit');
		await page.getByRole('heading', { level: 1, name: /セキュリティ事故等\s*修正/ }).waitFor();
		// The form starts with the record's values.
		assert.equal(await page.getByLabel('報告者氏名').inputValue(), '山田 太郎');
		assert.equal(await page.getByLabel('影響を受けた本人の数').inputValue(), '32');
		assert.match(await page.getByLabel('事故等の内容').inputValue(), /校外学習の帰りに/);
		const description = showLine(id, 'description');
		await page.getByLabel('影響を受けた本人の数').fill('33');
		await shot('14-edit-form');
		await page.getByRole('button', { name: '修正を保存する' }).click();
		await page.locator('#saved').waitFor();
		assert.match(page.url(), new RegExp(`/record/${id}\\?edited=1$`));
		assert.match(await page.locator('#saved').innerText(), /修正しました/);
		assert.equal(await page.locator('#v-persons_affected dd').innerText(), '33');
		assert.match(showLine(id, 'persons_affected'), /: 33\s/);
		assert.equal(showLine(id, 'description'), description, 'a field not changed is not written again');

		// Saving without a change writes nothing.
		const persons = showLine(id, 'persons_affected');
		await page.click('#edit');
		await page.getByRole('button', { name: '修正を保存する' }).click();
		await page.locator('#saved').waitFor();
		assert.match(await page.locator('#saved').innerText(), /変更された欄がない/);
		assert.equal(showLine(id, 'persons_affected'), persons);

		// While the form is open, a sync (here: the command line on the same store) changes two fields.
		await page.click('#edit');
		await page.getByLabel('事故等の内容').waitFor();
		agentEdit(id, 'description', '同期で届いた内容：USBメモリは翌日、駅で見つかった。');
		agentEdit(id, 'persons_affected', '40');
		// The person changes the description too, and the number of people not at all.
		await page.getByLabel('事故等の内容').fill('校外学習の帰りにUSBメモリを紛失した。（先生の訂正）');
		await page.getByRole('button', { name: '修正を保存する' }).click();
		await page.locator('.error-summary').waitFor();
		assert.match(await page.locator('.error-summary').innerText(), /編集中に記録が変わりました/);
		assert.match(await page.locator('#e-description').innerText(), /同期で届いた内容：USBメモリは翌日、駅で見つかった/);
		assert.equal(await page.locator('#e-persons_affected').count(), 0, 'a field the person left alone is no conflict');
		// Nothing was overwritten unseen; what was typed is still in the form.
		assert.match(showLine(id, 'description'), /同期で届いた内容/);
		assert.match(await page.getByLabel('事故等の内容').inputValue(), /先生の訂正/);
		await shot('15-edit-changed-meanwhile');
		// Saving again, now that the person has seen the new value, keeps theirs; the sync's 40 stays.
		await page.getByRole('button', { name: '修正を保存する' }).click();
		await page.locator('#saved').waitFor();
		assert.match(showLine(id, 'description'), /先生の訂正/);
		assert.match(showLine(id, 'persons_affected'), /: 40\s/);
		assert.equal(await page.locator('#v-persons_affected dd').innerText(), '40');

		// A raw POST needs the token like any other, and an unknown record is 404.
		const { cookie, token } = await session();
		const good = { Host: `127.0.0.1:${port}`, Origin: base, Cookie: cookie,
			'Content-Type': 'application/x-www-form-urlencoded' };
		let res = await request({ method: 'POST', pathname: `/edit/${id}`, headers: good,
			body: new URLSearchParams({ persons_affected: '1', 'base.persons_affected': '40' }).toString() });
		assert.equal(res.status, 403, 'no token');
		res = await request({ method: 'POST', pathname: '/edit/01ARZ3NDEKTSV4RRFFQ69G5FAV', headers: good,
			body: new URLSearchParams({ csrf: token, persons_affected: '1' }).toString() });
		assert.equal(res.status, 404);
		assert.match(showLine(id, 'persons_affected'), /: 40\s/);

		// A ledger entry is never changed: no button, and the form's address says why.
		const ledger = execFileSync(agentBin, ['--data-dir', dataDir, 'record', 'pi_handling', '--set', 'action=持出し',
			'--set', 'medium=USBメモリ', '--set', 'handled_by=山田 太郎', '--set', 'handled_at=2026-11-21T08:30'],
		{ encoding: 'utf8' }).trim();
		await page.goto(`${base}/record/${ledger}`);
		assert.equal(await page.locator('#edit').count(), 0);
		const refused = await page.goto(`${base}/edit/${ledger}`);
		assert.equal(refused.status(), 409);
		assert.match(await page.locator('main').innerText(), /台帳の記入は修正できません/);
	});

	it('shows the hub\'s review, its comment, and every conflict with what was kept', async () => {
		await page.goto(`${base}/record/${reviewed}`);
		assert.equal(await page.locator('#review-state').innerText(), '要修正');
		assert.equal(await page.locator('#review-comment').innerText(), '発見日時を記入してください');
		const resolved = page.locator('article.conflict.resolved');
		const open = page.locator('article.conflict.open');
		assert.equal(await resolved.count(), 1);
		assert.equal(await open.count(), 1);
		// Resolved: the value city hall chose, and both sides, with the PC that wrote each.
		const r = await resolved.innerText();
		assert.match(r, /被害拡大防止の措置/);
		assert.match(r, /区役所が採用した値\s+回収済み（校長に報告）/);
		assert.match(r, /\(pc1\)/);
		assert.match(r, /\(pc2\)/);
		// Open: nothing is resolved silently; both values are shown.
		const o = await open.innerText();
		assert.match(o, /再発防止策/);
		assert.match(o, /区役所で確認中/);
		assert.match(o, /持出し前に二人で確認する/);
		assert.match(o, /USBメモリの使用をやめる/);
		// The field holds the value city hall chose.
		assert.equal(await page.locator('#v-containment dd').innerText(), '回収済み（校長に報告）');
		await shot('07-record-reviewed');
		// The list marks it too.
		await page.goto(`${base}/`);
		const row = await page.locator(`#r-${reviewed}`).innerText();
		assert.match(row, /要修正/);
		assert.match(row, /コメントあり/);
		assert.match(row, /食い違いを確認中/);
	});

	it('switches to English, with errors in English next to each field', async () => {
		await page.goto(`${base}/new/incident`);
		await page.getByRole('button', { name: 'English' }).click();
		await page.getByRole('heading', { level: 1, name: 'Security incident' }).waitFor();
		assert.equal(await page.getAttribute('html', 'lang'), 'en');
		await page.getByLabel("Reporter's name").fill('Taro Yamada');
		await page.getByRole('button', { name: 'Record' }).click();
		await page.locator('.error-summary').waitFor();
		for (const name of ['occurred_at', 'description'])
			assert.match(await page.locator(`#e-${name}`).innerText(), /This field is required/);
		assert.match(await page.locator('#e-category').innerText(), /Choose one of the options/);
		assert.match(await page.locator('.error-summary').innerText(), /Please check your entries \(3\)/);
		await shot('08-form-english-errors');
		await page.getByRole('button', { name: '日本語' }).click();
		await page.getByRole('heading', { level: 1, name: 'セキュリティ事故等' }).waitFor();
	});

	it('is usable at tablet width', async () => {
		await page.setViewportSize({ width: 800, height: 1280 });
		await page.goto(`${base}/`);
		await shot('09-tablet-home');
		await page.goto(`${base}/new/incident`);
		// Keyboard only: Tab from the top reaches the skip link, then the form.
		await page.keyboard.press('Tab');
		assert.equal(await page.evaluate(() => document.activeElement?.className), 'skip');
		await shot('10-tablet-form');
		await page.goto(`${base}/record/${reviewed}`);
		await shot('11-tablet-record');
		await page.setViewportSize({ width: 1366, height: 768 });
	});

	it('refuses a form sent without its token, from the browser too', async () => {
		const before = agentList();
		await page.goto(`${base}/new/incident`);
		await page.evaluate(() => document.querySelector('form.record input[name=csrf]').remove());
		await page.getByLabel('発生日時').fill('2026-11-22T10:00');
		await page.getByLabel('事故等の区分').selectOption({ label: '紛失' });
		await page.getByLabel('事故等の内容').fill('トークンのない送信');
		const answer = page.waitForResponse((r) => r.request().method() === 'POST');
		await page.getByRole('button', { name: '記録する' }).click();
		const res = await answer;
		await page.locator('h1').waitFor();
		assert.equal(res.status(), 403);
		assert.match(await page.locator('h1').innerText(), /受け付けられませんでした/);
		await shot('12-refused');
		assert.equal(agentList(), before);
	});

	it('refuses a POST without the token, with a foreign Origin, or without a session', async () => {
		const { cookie, token } = await session();
		const before = agentList();
		const good = { Host: `127.0.0.1:${port}`, Origin: base, Cookie: cookie,
			'Content-Type': 'application/x-www-form-urlencoded' };
		let res = await request({ method: 'POST', pathname: '/new/incident', headers: good,
			body: incidentForm(token, { csrf: '' }) });
		assert.equal(res.status, 403, 'no token');
		res = await request({ method: 'POST', pathname: '/new/incident', headers: good,
			body: incidentForm('0'.repeat(64)) });
		assert.equal(res.status, 403, 'a wrong token');
		res = await request({ method: 'POST', pathname: '/new/incident', headers: { ...good, Origin: 'http://evil.example' },
			body: incidentForm(token) });
		assert.equal(res.status, 403, 'another site');
		res = await request({ method: 'POST', pathname: '/new/incident', headers: { ...good, Origin: 'null' },
			body: incidentForm(token) });
		assert.equal(res.status, 403, 'an opaque origin');
		const noOrigin = { ...good };
		delete noOrigin.Origin;
		res = await request({ method: 'POST', pathname: '/new/incident', headers: noOrigin, body: incidentForm(token) });
		assert.equal(res.status, 403, 'neither Origin nor Referer');
		const noCookie = { ...good };
		delete noCookie.Cookie;
		res = await request({ method: 'POST', pathname: '/new/incident', headers: noCookie, body: incidentForm(token) });
		assert.equal(res.status, 403, 'no session');
		res = await request({ method: 'POST', pathname: '/lang', headers: good, body: 'lang=en' });
		assert.equal(res.status, 403, 'even the language switch needs the token');
		assert.equal(agentList(), before, 'nothing was recorded');
		// The same request with the token is accepted: the refusals were for the reasons tested.
		res = await request({ method: 'POST', pathname: '/new/incident', headers: good,
			body: incidentForm(token, { description: '正しいトークンの送信' }) });
		assert.equal(res.status, 303);
		assert.match(res.headers.location, /^\/record\/[0-9A-Z]{26}\?new=1$/);
		assert.match(agentList(), /正しいトークンの送信/);
	});

	it('refuses a request naming another host (DNS rebinding), and writes nothing on GET', async () => {
		for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${Number(port) + 1}`, '127.0.0.1']) {
			const res = await request({ headers: { Host: host } });
			assert.equal(res.status, 403, `Host ${host}`);
			assert.doesNotMatch(res.body, /school-12/, 'nothing of the facility is shown');
		}
		const { cookie, token } = await session();
		const res = await request({ method: 'POST', pathname: '/new/incident',
			headers: { Host: `rebound.example:${port}`, Origin: `http://rebound.example:${port}`, Cookie: cookie,
				'Content-Type': 'application/x-www-form-urlencoded' }, body: incidentForm(token) });
		assert.equal(res.status, 403);
		for (const host of [`localhost:${port}`, `LOCALHOST:${port}`])
			assert.equal((await request({ headers: { Host: host } })).status, 200, `Host ${host}`);
		// GET never writes: a form's values in a query are ignored, and actions answer 404 to GET.
		const before = agentList();
		const query = new URLSearchParams({ occurred_at: '2026-11-21T09:00', category: '紛失', description: 'GETで記録' });
		assert.equal((await request({ pathname: `/new/incident?${query}`, headers: { Host: `127.0.0.1:${port}` } })).status, 200);
		assert.equal((await request({ pathname: '/lang?lang=en', headers: { Host: `127.0.0.1:${port}` } })).status, 404);
		assert.equal((await request({ pathname: '/sync', headers: { Host: `127.0.0.1:${port}` } })).status, 404);
		assert.equal(agentList(), before);
	});

	it('escapes what people typed, everywhere', async () => {
		await page.goto(`${base}/new/incident`);
		const evil = '<img src=x onerror=alert(1)> "quoted" & \'single\'';
		await page.getByLabel('報告者氏名').fill(evil);
		await page.getByLabel('発生日時').fill('2026-11-23T08:00');
		await page.getByLabel('事故等の区分').selectOption({ label: 'その他' });
		await page.getByLabel('事故等の内容').fill(`${evil}</textarea><script>alert(2)</script>`);
		await page.getByLabel('影響を受けた本人の数').fill('-1');
		await page.getByRole('button', { name: '記録する' }).click();
		await page.locator('.error-summary').waitFor();
		assert.equal(await page.getByLabel('報告者氏名').inputValue(), evil);
		assert.equal(await page.locator('img').count(), 0);
		assert.equal(await page.locator('main script').count(), 0);
		await page.getByLabel('影響を受けた本人の数').fill('');
		await page.getByRole('button', { name: '記録する' }).click();
		await page.locator('#saved').waitFor();
		assert.equal(await page.locator('#v-reporter_name dd').innerText(), evil);
		assert.equal(await page.locator('img').count(), 0);
		await page.goto(`${base}/new/pi_handling`);
		assert.equal(await page.getByLabel('取扱者').inputValue(), evil);
	});

	it('makes the README\'s picture: the form with an error next to a field (docs/web-form.png)', async () => {
		const p = await context.newPage();
		await p.setViewportSize({ width: 1024, height: 760 });
		await p.goto(`${base}/new/incident`);
		await p.getByLabel('報告者氏名').fill('山田 太郎');
		await p.getByLabel('事故等の区分').selectOption({ label: '誤送付・誤送信' });
		await p.getByLabel('事故等の内容').fill('保護者あての通知を別の家庭に送付した。');
		await p.getByRole('button', { name: '記録する' }).click();
		await p.locator('#e-occurred_at').waitFor();
		await p.screenshot({ path: path.join(shots, 'readme-web-form.png') });
		await p.close();
	});

	it('answers 404 for a record that is not here', async () => {
		const res = await page.goto(`${base}/record/01ARZ3NDEKTSV4RRFFQ69G5FAV`);
		assert.equal(res.status(), 404);
		assert.match(await page.locator('h1').innerText(), /ページが見つかりません/);
		await shot('13-not-found');
	});
});
