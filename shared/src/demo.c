/* demo.c: the deterministic generator of realistic records for demonstrations, tests and benchmarks. */
#include "kiroku/demo.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiroku/day.h"
#include "kiroku/lifecycle.h"

#define TXN_RECORDS 2000
#define POOL_BYTES  16384
#define MAX_FIELDS  48

enum kind_index { K_INCIDENT, K_PI_HANDLING, K_PI_FILE, K_SELF_INSPECTION, K_TRAINING, K_AUDIT, K_RISK, K_CONTRACTOR };
static const char *const kind_names[8] = {"incident", "pi_handling",   "pi_file", "self_inspection",
                                          "training", "audit_finding", "risk",    "contractor_check"};

struct gen {
	struct kr_store *st;
	const struct kr_demo_opts *o;
	struct kr_demo_result *res;
	struct kr_error *err;
	uint64_t rng;
	kr_day fy_start, fy_end;
	const char *facility;
	bool school;
	uint64_t in_txn;
	char pool[POOL_BYTES];
	size_t used;
	struct kr_field_text ft[MAX_FIELDS];
	size_t n;
	bool overflow;
};

/* ---- Randomness: splitmix64, so a seed gives the same sequence everywhere ---- */

static uint64_t rnd(struct gen *g)
{
	uint64_t z = (g->rng += UINT64_C(0x9E3779B97F4A7C15));
	z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
	return z ^ (z >> 31);
}

/* 0 .. n-1 (n > 0). */
static unsigned below(struct gen *g, unsigned n)
{
	return (unsigned)(rnd(g) % n);
}

static bool chance(struct gen *g, unsigned percent)
{
	return below(g, 100) < percent;
}

#define PICK(g, arr) ((arr)[below((g), sizeof(arr) / sizeof((arr)[0]))])

/* An index chosen with the weights w[0..n-1]. */
static size_t weighted(struct gen *g, const unsigned *w, size_t n)
{
	unsigned total = 0, x;
	for (size_t i = 0; i < n; i++)
		total += w[i];
	x = below(g, total);
	for (size_t i = 0; i < n; i++) {
		if (x < w[i])
			return i;
		x -= w[i];
	}
	return n - 1;
}

/* ---- Building a record's fields ---- */

static const char *pool_printf(struct gen *g, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const char *pool_printf(struct gen *g, const char *fmt, ...)
{
	va_list ap;
	char *p = g->pool + g->used;
	size_t left = POOL_BYTES - g->used;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(p, left, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= left) {
		g->overflow = true;
		return "";
	}
	g->used += (size_t)n + 1;
	return p;
}

static void set(struct gen *g, const char *name, const char *text)
{
	if (g->n == MAX_FIELDS) {
		g->overflow = true;
		return;
	}
	g->ft[g->n++] = (struct kr_field_text){name, text};
}

#define SETF(g, name, ...) set((g), (name), pool_printf((g), __VA_ARGS__))

static const char *day_text(struct gen *g, kr_day d)
{
	char t[KR_DAY_TEXT_LEN + 1];
	kr_day_format(d, t);
	return pool_printf(g, "%s", t);
}

static const char *datetime_text(struct gen *g, kr_day d, int hour, int minute)
{
	char t[KR_DAY_TEXT_LEN + 1];
	kr_day_format(d, t);
	return pool_printf(g, "%sT%02d:%02d", t, hour, minute);
}

/* A day of the fiscal year, from the first day + from to at most + span days. */
static kr_day fy_day(struct gen *g, unsigned from, unsigned span)
{
	kr_day d = g->fy_start + (kr_day)from + (kr_day)below(g, span ? span : 1);
	return d > g->fy_end ? g->fy_end : d;
}

static const char *const family[] = {"佐藤", "鈴木", "高橋",   "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤",
                                     "吉田", "山田", "佐々木", "山口", "松本", "井上", "木村", "林",   "斎藤", "清水",
                                     "山崎", "森",   "池田",   "橋本", "阿部", "石川", "前田", "藤田", "小川", "岡田"};
static const char *const given[] = {"翔太", "美咲", "健一", "陽子", "大輔", "由美",   "拓也", "恵子", "直樹", "真由美",
                                    "浩二", "明美", "剛",   "裕子", "誠",   "久美子", "亮",   "智子", "学",   "香織",
                                    "勇気", "彩",   "和也", "理恵", "悟",   "綾",     "隆",   "典子", "修",   "舞"};

static const char *person(struct gen *g)
{
	return pool_printf(g, "%s %s", PICK(g, family), PICK(g, given));
}

/* ---- Writing ---- */

static kr_status flush_txn(struct gen *g, bool reopen)
{
	kr_status s = kr_store_commit(g->st, g->err);
	if (s)
		return s;
	g->in_txn = 0;
	if (g->o->progress)
		g->o->progress(g->o->progress_ctx, g->res->records);
	return reopen ? kr_store_begin(g->st, g->err) : KR_OK;
}

static kr_status emit(struct gen *g, enum kind_index k)
{
	kr_ulid id;
	kr_status s;

	if (g->overflow)
		return kr_fail(g->err, KR_ERR_INTERNAL, "demo data: a %s record did not fit the generator's buffers",
		               kind_names[k]);
	s = kr_record_create(g->st, kind_names[k], g->facility, g->ft, g->n, KR_WRITE_OPERATOR, &id, g->err);
	g->n = 0;
	g->used = 0;
	if (s) {
		kr_error_prefix(g->err, "demo data (%s of %s)", kind_names[k], g->facility);
		return s;
	}
	g->res->records++;
	g->res->by_kind[k]++;
	if (++g->in_txn == TXN_RECORDS)
		return flush_txn(g, true);
	return KR_OK;
}

/* ---- The kinds ---- */

static const char *const school_docs[] = {"通知表の下書き", "成績一覧表",     "指導要録の写し",
                                          "保護者連絡網",   "学級名簿",       "健康診断票",
                                          "個人面談の記録", "児童の作品写真", "欠席連絡の記録"};
static const char *const office_docs[] = {"住民票の写し",       "各種申請書",     "納税通知書",
                                          "相談記録",           "窓口の受付簿",   "介護保険の認定資料",
                                          "児童手当の申請書類", "住民名簿の抜粋", "健診結果の通知"};
static const char *const places[] = {"通勤途中の電車内", "校外学習先",     "会議の会場", "窓口付近",
                                     "帰宅途中の飲食店", "区役所の駐車場", "バスの車内", "出張先"};

static const char *doc(struct gen *g)
{
	return g->school ? PICK(g, school_docs) : PICK(g, office_docs);
}

static const char *const categories[] = {"漏えい",     "紛失",         "誤送付・誤送信", "誤掲載", "不正アクセス",
                                         "マルウェア", "破壊・改ざん", "ポリシー違反",   "その他"};
static const unsigned category_w[] = {8, 22, 30, 8, 5, 8, 4, 10, 5};

static const char *description(struct gen *g, size_t cat, const char **media)
{
	const char *d = doc(g), *p = PICK(g, places);
	switch (cat) {
	case 0:
		*media = "システム";
		return pool_printf(g,
		                   "%sを含むファイルを、外部から閲覧できる共有フォルダに誤って保存していた。"
		                   "設定の点検で判明した。",
		                   d);
	case 1:
		if (chance(g, 55)) {
			*media = "USBメモリ等";
			return pool_printf(g, "%sを保存したUSBメモリを%sで紛失した。警察に遺失届を提出した。", d, p);
		}
		*media = "紙";
		return pool_printf(g, "%sの紙資料を%sに置き忘れた。翌日、届け出により所在を確認した。", d, p);
	case 2:
		if (chance(g, 60)) {
			*media = "電子メール";
			return pool_printf(g, "%sを添付したメールを、宛先の選択を誤って別の%sに送信した。", d,
			                   g->school ? "保護者" : "申請者");
		}
		*media = "紙";
		return pool_printf(g, "%sを封入する際に別の方の書類を同封し、誤って送付した。", d);
	case 3:
		*media = "ウェブ";
		return pool_printf(g, "%sに%sの一部が写った写真を掲載していた。",
		                   g->school ? "学校ホームページ" : "区のホームページ", d);
	case 4:
		*media = "システム";
		return pool_printf(g, "職員のアカウントに対して、海外から不審なログインの試行が短時間に多数あった。");
	case 5:
		*media = "電子メール";
		return pool_printf(
		    g, "取引先を装った不審なメールの添付ファイルを開き、端末がマルウェアに感染した疑いがある。");
	case 6:
		*media = "システム";
		return pool_printf(g, "共有フォルダの%sが誤操作で上書きされ、一部のデータが失われた。", d);
	case 7:
		*media = "USBメモリ等";
		return pool_printf(g, "保護責任者の許可を得ずに、%sを私物のUSBメモリに複製していた。", d);
	default:
		*media = "その他";
		return pool_printf(g, "終業後に施錠すべき書庫が施錠されていなかった。巡回で判明した。");
	}
}

static const char *const containments[] = {"送付先に連絡し、誤って送付した書類を回収した。",
                                           "該当ファイルを削除し、アクセスの記録を確認した。",
                                           "端末をネットワークから切り離し、ウイルス対策ソフトで検査した。",
                                           "該当アカウントのパスワードを変更した。",
                                           "掲載を直ちに取り下げ、検索サイトのキャッシュの削除を依頼した。",
                                           "関係する本人に連絡し、経緯を説明して謝罪した。"};
static const char *const preventions[] = {"送付前に複数の職員で宛先と同封物を確認する手順を徹底する。",
                                          "持出しはパスワード付きの暗号化USBメモリに限る。",
                                          "全職員を対象に個人情報の取扱いの職場教育を行った。",
                                          "メールの外部送信時に宛先の確認画面を表示する設定にした。",
                                          "ホームページへの掲載前に保護責任者が内容を確認する。",
                                          "不審なメールの見分け方について注意喚起を行った。"};

static kr_status incident(struct gen *g)
{
	size_t cat = weighted(g, category_w, 9);
	const char *media = "その他", *desc = description(g, cat, &media);
	kr_day occ = fy_day(g, 0, 365), disc = occ + (kr_day)(chance(g, 60) ? 0 : below(g, 4)),
	       rep = disc + (kr_day)below(g, 2);
	bool pi = cat <= 3 || cat == 7 ? chance(g, 85) : chance(g, 20);
	bool unauthorised = cat <= 2 && chance(g, 3);
	unsigned persons = pi ? (chance(g, 85) ? 1 + below(g, 12) : 20 + below(g, 400)) : 0;
	/* How far the hub has got: st 0-9 reported (no status yet), 10-17 triaged, 18-27 contained, 28 and more
	 * closed; incidents older than two months are nearly all closed. */
	unsigned st = below(g, 100);

	if (g->fy_end - occ > 60 && st < 28)
		st = st < 1 ? st : st < 3 ? 10 : st < 7 ? 18 : 28 + st;
	if (disc > g->fy_end)
		disc = g->fy_end;
	if (rep > g->fy_end)
		rep = g->fy_end;
	set(g, "occurred_at", datetime_text(g, occ, 8 + (int)below(g, 11), (int)below(g, 60)));
	set(g, "discovered_at", datetime_text(g, disc, 8 + (int)below(g, 11), (int)below(g, 60)));
	set(g, "reported_at", datetime_text(g, rep, 9 + (int)below(g, 9), (int)below(g, 60)));
	set(g, "category", categories[cat]);
	set(g, "media", media);
	set(g, "personal_info", pi ? "yes" : "no");
	if (pi) {
		set(g, "my_number", chance(g, 5) ? "yes" : "no");
		SETF(g, "persons_affected", "%u", persons);
		if (persons <= 3) {
			const char *a = person(g);
			set(g, "affected_names", persons == 1 ? a : pool_printf(g, "%s ほか%u名", a, persons - 1));
		}
	}
	set(g, "description", desc);
	if (st >= 10)
		set(g, "containment", PICK(g, containments));
	if (st >= 28 && chance(g, 80))
		set(g, "recurrence_prevention", PICK(g, preventions));
	set(g, "asset_use_restricted", chance(g, 10) ? "yes" : "no");
	set(g, "reporter_name", person(g));
	SETF(g, "reporter_contact", "内線%04u", 1000 + below(g, 9000));
	if (unauthorised)
		set(g, "unauthorised_purpose", "yes");
	/* What the hub operator has done so far: most incidents are closed. */
	if (st >= 10) {
		static const char *const sev[] = {"low", "medium", "high", "critical"};
		static const unsigned sev_w[] = {40, 35, 20, 5};
		set(g, "status", st < 18 ? "triaged" : st < 28 ? "contained" : "closed");
		set(g, "severity", sev[weighted(g, sev_w, 4)]);
		if (st >= 28)
			set(g, "closed_at", day_text(g, disc + 5 + (kr_day)below(g, 50)));
		if (pi && cat <= 3 && chance(g, 15)) {
			struct kr_ppc_due due;
			kr_ppc_due(day_text(g, disc), NULL, unauthorised, &due, NULL);
			set(g, "ppc_report_required", "yes");
			set(g, "ppc_preliminary_due", day_text(g, due.preliminary));
			set(g, "ppc_final_due", day_text(g, due.final));
			if (chance(g, 90))
				set(g, "ppc_preliminary_sent",
				    day_text(g, chance(g, 90) ? due.preliminary - (kr_day)below(g, 4)
				                              : due.preliminary + 1 + (kr_day)below(g, 4)));
			if (st >= 28 || chance(g, 50))
				set(g, "ppc_final_sent",
				    day_text(g, chance(g, 92) ? due.final - (kr_day)below(g, 10)
				                              : due.final + 1 + (kr_day)below(g, 9)));
		} else {
			set(g, "ppc_report_required", "no");
		}
	}
	return emit(g, K_INCIDENT);
}

static kr_status pi_handling(struct gen *g)
{
	static const char *const actions[] = {"持出し", "返却", "複製", "送信", "廃棄"};
	static const unsigned action_w[] = {35, 30, 15, 10, 10};
	static const char *const school_media[] = {"成績一覧表（紙）", "暗号化USBメモリ No.2", "指導要録の写し",
	                                           "保護者連絡網（紙）", "暗号化USBメモリ No.5"};
	static const char *const office_media[] = {"申請書綴り", "相談記録（紙）", "暗号化USBメモリ No.3",
	                                           "受付簿の写し", "納付書の控え"};
	static const char *const dests[] = {"区教育委員会事務局", "校外学習先", "区役所本庁舎", "委託事業者（印刷）",
	                                    "自宅（持ち帰り業務の許可あり）"};
	size_t a = weighted(g, action_w, 5);
	kr_day d = fy_day(g, 0, 365);

	set(g, "action", actions[a]);
	set(g, "medium", g->school ? PICK(g, school_media) : PICK(g, office_media));
	set(g, "handled_by", person(g));
	set(g, "handled_at", datetime_text(g, d, 8 + (int)below(g, 10), (int)below(g, 60)));
	if (chance(g, 90))
		set(g, "approved_by", person(g));
	if (a == 0 || a == 3)
		set(g, "destination", PICK(g, dests));
	SETF(g, "persons_count", "%u", 1 + below(g, 40));
	return emit(g, K_PI_HANDLING);
}

static kr_status pi_file(struct gen *g)
{
	static const char *const school_files[][3] = {
	    {"児童指導要録", "学籍および指導の記録", "氏名、生年月日、住所、学習の記録、出欠の記録"},
	    {"保健調査票", "健康管理", "氏名、既往歴、アレルギー、健康診断の結果"},
	    {"学級名簿", "学級の運営と連絡", "氏名、保護者名、住所、電話番号"},
	    {"就学援助の申請書類", "就学援助の審査", "氏名、世帯の所得、口座"}};
	static const char *const office_files[][3] = {
	    {"住民基本台帳", "住民の居住関係の記録", "氏名、生年月日、性別、住所、世帯"},
	    {"介護保険被保険者台帳", "介護保険の資格管理", "氏名、被保険者番号、要介護度"},
	    {"区民相談記録", "相談への対応", "氏名、連絡先、相談の内容"},
	    {"特別区民税課税台帳", "課税", "氏名、所得、税額、個人番号"}};
	size_t i = below(g, 4);
	const char *const *f = g->school ? school_files[i] : office_files[i];
	bool discontinued = chance(g, 10);

	set(g, "name", f[0]);
	set(g, "purpose", f[1]);
	set(g, "items", f[2]);
	SETF(g, "persons_count", "%u", 20 + below(g, 2000));
	set(g, "my_number", !g->school && i == 3 ? "yes" : "no");
	set(g, "form", chance(g, 50) ? "電子と紙" : chance(g, 50) ? "電子" : "紙");
	if (chance(g, 90))
		set(g, "notified_on", day_text(g, g->fy_start - 30 - (kr_day)below(g, 1500)));
	set(g, "status", discontinued ? "discontinued" : "held");
	if (discontinued) {
		kr_day d = fy_day(g, 0, 365);
		set(g, "discontinued_on", day_text(g, d));
		if (chance(g, 70))
			set(g, "discontinuation_notified_on", day_text(g, d + (kr_day)below(g, 20)));
	}
	return emit(g, K_PI_FILE);
}

static kr_status self_inspection(struct gen *g)
{
	/* Weaker items (lower chance of yes): the yearly contractor check, the ledger, foreign handling. */
	static const unsigned yes_pct[20] = {88, 90, 92, 80, 72, 84, 90, 86, 78, 82,
	                                     85, 66, 80, 93, 75, 83, 92, 70, 74, 79};
	bool completed = chance(g, 92);
	unsigned answered = completed ? 20 : below(g, 12), yes = 0;

	SETF(g, "fiscal_year", "%d", g->o->year);
	set(g, "inspected_on", day_text(g, fy_day(g, 183, 120)));
	set(g, "inspector", person(g));
	for (unsigned q = 0; q < answered; q++) {
		unsigned x = below(g, 100);
		const char *a = x < yes_pct[q]                                ? "はい"
		                : x < yes_pct[q] + (100 - yes_pct[q]) * 2 / 3 ? "いいえ"
		                                                              : "該当なし";
		yes += x < yes_pct[q];
		set(g, pool_printf(g, "q%02u", q + 1), a);
	}
	if (chance(g, 40))
		set(g, "comments", "持出し台帳の記入漏れがあったため、記入例を配布した。");
	set(g, "completed", completed ? "yes" : "no");
	if (completed)
		SETF(g, "score", "%u", yes);
	return emit(g, K_SELF_INSPECTION);
}

static kr_status training(struct gen *g, bool general)
{
	kr_day d = general ? fy_day(g, 30, 90) : fy_day(g, 150, 100);

	set(g, "course", general ? "一般教育" : "職場教育");
	set(g, "held_on", day_text(g, d));
	set(g, "title", general ? "情報セキュリティ一般教育（eラーニング）" : "職場教育：個人情報の適切な取扱い");
	set(g, "attendee", person(g));
	set(g, "attendee_type", chance(g, 5) ? "委託事業者等" : g->school ? "教職員" : "職員");
	set(g, "completed", chance(g, 93) ? "yes" : "no");
	return emit(g, K_TRAINING);
}

static kr_status audit(struct gen *g)
{
	static const char *const findings[] = {"持出し台帳に返却日の記入がない記録が複数あった。",
	                                       "退職者のアカウントが削除されずに残っていた。",
	                                       "個人情報を含む書類が施錠されていない棚に保管されていた。",
	                                       "委託先の年次確認の記録がなかった。",
	                                       "パスワードを付箋に書いて端末に貼っていた。",
	                                       "実施手順が現行の体制に合わせて更新されていなかった。"};
	static const char *const actions[] = {"台帳の記入を徹底し、月末に保護責任者が確認すること。",
	                                      "不要なアカウントを直ちに削除し、棚卸しを定期的に行うこと。",
	                                      "施錠できる保管庫に移し、鍵の管理簿を作成すること。",
	                                      "委託先の管理状況を確認し、記録を残すこと。"};
	static const char *const sev[] = {"low", "medium", "high"};
	static const unsigned sev_w[] = {45, 40, 15};
	kr_day d = fy_day(g, 90, 150);
	unsigned st = below(g, 100);

	set(g, "audited_on", day_text(g, d));
	set(g, "severity", sev[weighted(g, sev_w, 3)]);
	set(g, "finding", PICK(g, findings));
	set(g, "auditor", person(g));
	set(g, "corrective_action", PICK(g, actions));
	set(g, "due", day_text(g, d + (chance(g, 50) ? 60 : 90)));
	set(g, "status", st < 20 ? "open" : st < 45 ? "in_progress" : "closed");
	if (st >= 45) {
		set(g, "response", "指摘を受けて手順を改め、職員に周知した。");
		set(g, "corrected_on", day_text(g, d + 20 + (kr_day)below(g, 60)));
	}
	return emit(g, K_AUDIT);
}

static kr_status risk(struct gen *g)
{
	static const char *const risks[][2] = {
	    {"USBメモリの紛失による個人情報の漏えい", "暗号化USBメモリへの切替えと持出し台帳の徹底"},
	    {"標的型メールによるマルウェア感染", "訓練メールの実施と添付ファイルの無害化"},
	    {"誤送信による個人情報の漏えい", "外部送信時の上長確認と送信保留の設定"},
	    {"委託先からの情報漏えい", "特記事項の遵守状況の年次確認と立入検査"},
	    {"共有フォルダの権限設定の誤り", "アクセス権限の棚卸しを四半期ごとに実施"}};
	static const char *const lv[] = {"low", "medium", "high"};
	static const char *const treatments[] = {"低減", "回避", "移転", "受容"};
	static const unsigned treat_w[] = {70, 10, 8, 12};
	size_t i = below(g, 5);
	kr_day d = fy_day(g, 0, 300);
	unsigned st = below(g, 100);

	set(g, "identified_on", day_text(g, d));
	set(g, "risk", risks[i][0]);
	set(g, "likelihood", PICK(g, lv));
	set(g, "impact", PICK(g, lv));
	if (chance(g, 90)) {
		set(g, "treatment", treatments[weighted(g, treat_w, 4)]);
		set(g, "treatment_plan", risks[i][1]);
	}
	set(g, "owner", person(g));
	if (chance(g, 40))
		set(g, "source", "令和8年度情報セキュリティ監査の指摘");
	set(g, "due", day_text(g, d + 90 + (kr_day)below(g, 90)));
	set(g, "status", st < 30 ? "open" : st < 70 ? "in_treatment" : "closed");
	return emit(g, K_RISK);
}

static kr_status contractor(struct gen *g, unsigned k)
{
	static const char *const firms[] = {"株式会社ねりまシステム",       "東京データサービス株式会社",
	                                    "株式会社光が丘印刷",           "大泉情報技術株式会社",
	                                    "株式会社石神井ネットワークス", "関東給食管理株式会社"};
	static const char *const school_contracts[] = {"校務支援システム保守委託", "学校ホームページ管理委託",
	                                               "給食費管理システム運用委託", "学習用端末の管理委託"};
	static const char *const office_contracts[] = {"窓口受付業務委託", "通知書の印刷・封入封緘業務委託",
	                                               "基幹システム運用保守委託", "コールセンター運営委託"};
	static const char *const subs[] = {"再委託なし", "承認済み", "未承認"};
	static const unsigned sub_w[] = {60, 36, 4};
	static const char *const results[] = {"適合", "要改善", "不適合"};
	static const unsigned res_w[] = {80, 15, 5};
	kr_day d = chance(g, 85) ? fy_day(g, 0, 365) : g->fy_start - 30 - (kr_day)below(g, 300);
	size_t result = weighted(g, res_w, 3);

	set(g, "contractor", firms[(k + below(g, 2)) % 6]);
	set(g, "contract", g->school ? school_contracts[k % 4] : office_contracts[k % 4]);
	set(g, "checked_on", day_text(g, d));
	set(g, "subcontracting", subs[weighted(g, sub_w, 3)]);
	set(g, "result", results[result]);
	set(g, "special_clauses_compliant", result == 2 || chance(g, 3) ? "no" : "yes");
	set(g, "findings",
	    result ? "個人情報の持出し記録に不備があり、改善を求めた。"
	           : "特記事項に沿って管理されていることを確認した。");
	set(g, "checked_by", person(g));
	if (chance(g, 70))
		set(g, "next_check_due", day_text(g, d + 365));
	return emit(g, K_CONTRACTOR);
}

/* ---- The whole ---- */

/* Records of each kind for facility f: realistic, or an even share of the totals asked for. */
static void counts_for(struct gen *g, unsigned f, unsigned n[8])
{
	static const unsigned share[8] = {0, 25, 5, 5, 50, 5, 5, 5}; /* percent of "others" */
	unsigned nf = g->o->facilities;

	if (g->o->incidents)
		n[K_INCIDENT] = (unsigned)(g->o->incidents / nf + (f < g->o->incidents % nf));
	else
		n[K_INCIDENT] = below(g, 5) + (g->school ? 0 : 1);
	if (g->o->others) {
		for (int k = 1; k < 8; k++) {
			uint64_t total = g->o->others * share[k] / 100;
			if (k == K_TRAINING) /* takes what rounding left over */
				total = g->o->others - g->o->others * 50 / 100;
			n[k] = (unsigned)(total / nf + (f < total % nf));
		}
		return;
	}
	n[K_PI_HANDLING] = 8 + below(g, 20);
	n[K_PI_FILE] = 3 + below(g, 5);
	n[K_SELF_INSPECTION] = chance(g, 95);
	n[K_TRAINING] = g->school ? 20 + below(g, 30) : 15 + below(g, 40); /* staff: each takes the general course */
	n[K_AUDIT] = chance(g, 35) ? 1 + below(g, 3) : 0;
	n[K_RISK] = below(g, 4);
	n[K_CONTRACTOR] = 1 + below(g, 4);
}

static kr_status facility(struct gen *g, unsigned f)
{
	unsigned n[8];
	char id[32];
	unsigned kind = f % 20;
	kr_status s = KR_OK;

	/* 45 % elementary schools, 20 % junior high schools, 35 % sections of the city office. */
	if (kind < 9)
		snprintf(id, sizeof id, "es-%03u", f / 20 * 9 + kind + 1);
	else if (kind < 13)
		snprintf(id, sizeof id, "jhs-%03u", f / 20 * 4 + kind - 9 + 1);
	else
		snprintf(id, sizeof id, "sec-%03u", f / 20 * 7 + kind - 13 + 1);
	g->facility = id;
	g->school = kind < 13;
	counts_for(g, f, n);
	for (unsigned i = 0; i < n[K_INCIDENT] && !s; i++)
		s = incident(g);
	for (unsigned i = 0; i < n[K_PI_HANDLING] && !s; i++)
		s = pi_handling(g);
	for (unsigned i = 0; i < n[K_PI_FILE] && !s; i++)
		s = pi_file(g);
	for (unsigned i = 0; i < n[K_SELF_INSPECTION] && !s; i++)
		s = self_inspection(g);
	for (unsigned i = 0; i < n[K_TRAINING] && !s; i++) {
		/* Realistic: every member of staff takes the general course, most the workplace one too. */
		s = training(g, g->o->others ? i % 2 == 0 : true);
		if (!s && !g->o->others && chance(g, 75))
			s = training(g, false);
	}
	for (unsigned i = 0; i < n[K_AUDIT] && !s; i++)
		s = audit(g);
	for (unsigned i = 0; i < n[K_RISK] && !s; i++)
		s = risk(g);
	for (unsigned i = 0; i < n[K_CONTRACTOR] && !s; i++)
		s = contractor(g, i);
	g->facility = NULL;
	return s;
}

kr_status kr_demo_generate(struct kr_store *st, const struct kr_demo_opts *o, struct kr_demo_result *res,
                           struct kr_error *err)
{
	static struct gen zero;
	struct gen *g;
	kr_status s;

	memset(res, 0, sizeof *res);
	if (kr_store_role(st) != KR_ROLE_HUB)
		return kr_fail(err, KR_ERR_FORBIDDEN, "demo data is written at the hub");
	if (o->facilities < 1 || o->facilities > KR_DEMO_MAX_FACILITIES)
		return kr_fail(err, KR_ERR_INVALID, "--facilities: %u is not from 1 to %d", o->facilities,
		               KR_DEMO_MAX_FACILITIES);
	if (o->year < 2000 || o->year > 2100)
		return kr_fail(err, KR_ERR_INVALID, "--year: %d is not from 2000 to 2100", o->year);
	if (!(g = malloc(sizeof *g)))
		return kr_fail(err, KR_ERR_NOMEM, "out of memory");
	*g = zero;
	g->st = st;
	g->o = o;
	g->res = res;
	g->err = err;
	g->rng = o->seed ^ UINT64_C(0x6B69726F6B75); /* "kiroku" */
	g->fy_start = kr_day_from_ymd(o->year, 4, 1);
	g->fy_end = kr_day_from_ymd(o->year + 1, 3, 31);
	s = kr_store_begin(st, err);
	for (unsigned f = 0; f < o->facilities && !s; f++)
		s = facility(g, f);
	if (!s)
		s = flush_txn(g, false);
	else
		kr_store_rollback(st);
	if (s) {
		/* what the rolled-back transaction held is not in the store */
		res->records -= g->in_txn;
	}
	free(g);
	return s;
}
