/* web_words.c: every word of the web form's pages, in Japanese (the default) and English. Labels of kinds,
 * fields and values come from the catalogue, not from here. */
#include <stdio.h>
#include <string.h>

#include "web.h"

static const char *const words[WW_COUNT_][2] = {
    [WW_APP_TITLE] = {"記録（kiroku）", "kiroku records"},
    [WW_SKIP] = {"本文へ移動", "Skip to the content"},
    [WW_HOME] = {"ホーム", "Home"},
    [WW_LANG_SWITCH] = {"English", "日本語"},
    [WW_FACILITY] = {"施設", "Facility"},
    [WW_NODE] = {"端末", "PC"},
    [WW_RECORD_NEW] = {"記録する", "Record"},
    [WW_RECORD_STAFF_HINT] =
        {"ネットワークにつながっていなくても記録できます。記録はこのPCに保存され、つながったときに区役所（ハブ）へ送ら"
         "れます。",
         "You can record without a network. Records are kept on this PC and sent to city hall (the "
         "hub) when the network is back."},
    [WW_RECORD_OTHER] = {"その他の記録", "Other records"},
    [WW_KIND_HINT_INCIDENT] = {"紛失・誤送信・漏えいなどに気づいたら、すぐに報告してください。",
                               "Noticed a loss, a mis-sent message, a leak? Report it at once."},
    [WW_KIND_HINT_PI_HANDLING] = {"個人情報の持出し・返却・複製・送信・廃棄を記録します。",
                                  "Taking out, returning, copying, sending or destroying personal information."},
    [WW_KIND_HINT_TRAINING] = {"研修を受けたことを記録します。", "Record attending a training course."},
    [WW_KIND_HINT_SELF_INSPECTION] = {"年に一度の自己点検のチェックリストです。",
                                      "The yearly self-inspection checklist."},
    [WW_CONFLICT_BADGE] = {"食い違いを確認中", "conflict being checked"},
    [WW_RECORDS] = {"この施設の記録", "This facility's records"},
    [WW_RECORDS_ALL] = {"すべて", "All"},
    [WW_RECORDS_NONE] = {"記録はまだありません。", "No records yet."},
    [WW_RECORDS_SHOWN] = {"新しい順に %llu 件を表示しています（全 %llu 件）。", "The newest %llu of %llu records."},
    [WW_COL_DATE] = {"日付", "Date"},
    [WW_COL_KIND] = {"種類", "Kind"},
    [WW_COL_SUMMARY] = {"内容", "Summary"},
    [WW_COL_STATUS] = {"対応状況", "Status"},
    [WW_COL_REVIEW] = {"区役所の確認", "City hall's review"},
    [WW_SYNC_TITLE] = {"区役所（ハブ）との同期", "Sync with city hall (the hub)"},
    [WW_SYNC_NEVER] = {"まだ一度も区役所（ハブ）と同期していません。",
                       "This PC has not synced with city hall (the hub) yet."},
    [WW_SYNC_OK] = {"区役所（ハブ）に接続できました。", "City hall (the hub) was reachable."},
    [WW_SYNC_FAILED] = {"区役所（ハブ）に接続できませんでした。", "City hall (the hub) could not be reached."},
    [WW_SYNC_REFUSED] =
        {"区役所（ハブ）には接続できましたが、同期が受け付けられませんでした。情報システム担当者に連絡してください。",
         "City hall (the hub) answered but refused the sync: tell the IT staff."},
    [WW_COUNT_ITEMS] = {"%llu 件", "%llu"},
    [WW_CONFLICT_SIDE] = {"食い違った値", "Conflicting value"},
    [WW_SYNC_SAFE] = {"記録はこのPCに保存されています。接続が戻ると自動的に送られます。",
                      "Records are safe on this PC and are sent when the connection is back."},
    [WW_SYNC_LAST] = {"最後に同期した日時", "Last synced"},
    [WW_SYNC_LAST_ATTEMPT] = {"最後に接続を試みた日時", "Last attempt"},
    [WW_SYNC_WAITING] = {"送信待ちの変更", "Changes waiting to be sent"},
    [WW_SYNC_WAITING_NONE] = {"なし（すべて送信済み）", "none (all sent)"},
    [WW_SYNC_AUTO] = {"自動同期: %llu 秒ごと、および新しい記録の直後",
                      "Automatic sync: every %llu s, and soon after new records"},
    [WW_SYNC_MANUAL] = {"この画面は同期を行いません（同期はこのPCの kiroku-agent サービスが行います）。",
                        "This page does not sync by itself (the kiroku-agent service of this PC does)."},
    [WW_SYNC_NOW] = {"今すぐ同期する", "Sync now"},
    [WW_SYNC_REQUESTED] = {"同期を始めました。しばらくしてからこのページを再読み込みしてください。",
                           "Sync started. Reload this page in a moment."},
    [WW_SYNC_DETAILS] = {"詳しい理由（情報システム担当者向け）", "Details (for the IT staff)"},
    [WW_SYNC_HUB] = {"接続先", "Hub"},
    [WW_CONFLICTS_OPEN] = {"区役所で確認中の食い違い: %llu 件", "Conflicting edits being checked at city hall: %llu"},
    [WW_REQUIRED] = {"必須", "required"},
    [WW_OPTIONAL_NONE] = {"（未選択）", "(not chosen)"},
    [WW_RECORDER_TITLE] = {"記録する人", "Who is recording"},
    [WW_RECORDER_HINT] = {"氏名はこのブラウザを閉じるまで覚えておき、次の記録に自動で入ります。",
                          "Your name is remembered until this browser is closed and filled in on your next record."},
    [WW_RECORDER_ATTENDEE_HINT] =
        {"この種類の記録には「記録する人」の欄がありません。受講者の欄に、覚えている氏名を入れてあります。",
         "This kind of record has no field for who recorded it; the attendee field is filled "
         "in with the remembered name."},
    [WW_FORM_SUBMIT] = {"記録する", "Record"},
    [WW_FORM_CANCEL] = {"やめる", "Cancel"},
    [WW_FORM_ERRORS] = {"入力内容を確認してください（%llu 件）", "Please check your entries (%llu)"},
    [WW_FORM_ERROR_PREFIX] = {"エラー: ", "Error: "},
    [WW_FORM_NOT_SAVED] = {"まだ記録されていません。", "Nothing has been recorded yet."},
    [WW_FORM_LEDGER_NOTE] = {"この台帳の記録は、あとから変更・削除できません。内容を確かめてから記録してください。",
                             "Entries of this ledger can't be changed or deleted later: check them before recording."},
    [WW_FORM_INTRO] = {"「必須」の欄は必ず入力してください。", "Fields marked \"required\" must be filled in."},
    [WW_HINT_DATETIME] = {"例: 2026-11-20 15:10", "e.g. 2026-11-20 15:10"},
    [WW_HINT_DATE] = {"例: 2026-11-20", "e.g. 2026-11-20"},
    [WW_HINT_COUNT] = {"0 以上の整数（半角・全角どちらでも）", "A whole number, 0 or more"},
    [WW_HINT_INTEGER] = {"整数（例: 2026）", "A whole number (e.g. 2026)"},
    [WW_ERR_REQUIRED] = {"入力してください。", "This field is required."},
    [WW_ERR_DATETIME] = {"日時は「2026-11-20 15:10」のように入力してください。",
                         "Enter a date and time such as 2026-11-20 15:10."},
    [WW_ERR_DATE] = {"日付は「2026-11-20」のように、実在する日を入力してください。",
                     "Enter a real date such as 2026-11-20."},
    [WW_ERR_COUNT] = {"0 以上の整数で入力してください（例: 3）。", "Enter a whole number, 0 or more (e.g. 3)."},
    [WW_ERR_INTEGER] = {"整数で入力してください（例: 2026）。", "Enter a whole number (e.g. 2026)."},
    [WW_ERR_CHOICE] = {"選択肢から選んでください。", "Choose one of the options."},
    [WW_ERR_BOOLEAN] = {"「はい」か「いいえ」を選んでください。", "Choose yes or no."},
    [WW_ERR_TOO_LONG] = {"長すぎます。全角でおよそ %llu 字以内にしてください（今は %llu 字）。",
                         "Too long: keep it to about %llu characters (now %llu)."},
    [WW_ERR_CHARACTERS] = {"使えない文字が含まれています。", "This text contains characters that can't be stored."},
    [WW_ERR_UNKNOWN_FIELD] = {"この欄はこの記録の種類にありません。", "This field is not part of this kind of record."},
    [WW_YES] = {"はい", "Yes"},
    [WW_NO] = {"いいえ", "No"},
    [WW_CHOOSE] = {"選んでください", "Choose"},
    [WW_SAVED] = {"記録しました。", "Recorded."},
    [WW_SAVED_DETAIL] = {"このPCに保存しました。次の同期で区役所（ハブ）に送られます。",
                         "It is saved on this PC and goes to city hall (the hub) with the next sync."},
    [WW_REC_CONTENT] = {"記録の内容", "What was recorded"},
    [WW_REC_HUB] = {"区役所（ハブ）からの確認", "From city hall (the hub)"},
    [WW_REC_HUB_NONE] = {"区役所ではまだ確認されていません。", "City hall has not reviewed this record yet."},
    [WW_REC_REVIEW_STATE] = {"確認状況", "Review state"},
    [WW_REC_REVIEW_NONE] = {"未確認", "Not reviewed"},
    [WW_REC_DELETED] = {"この記録は削除されています。", "This record has been deleted."},
    [WW_REC_ID] = {"記録番号", "Record id"},
    [WW_REC_BACK] = {"記録の一覧に戻る", "Back to the records"},
    [WW_REC_CONFLICTS] = {"食い違った編集", "Conflicting edits"},
    [WW_CONFLICT_OPEN] = {"区役所で確認中", "Being checked at city hall"},
    [WW_CONFLICT_RESOLVED] = {"解決済み", "Resolved"},
    [WW_CONFLICT_KEPT] = {"いま記録に残っている値", "Value kept in the record"},
    [WW_CONFLICT_ASIDE] = {"取っておかれた別の値", "Other value, set aside"},
    [WW_CONFLICT_CHOSEN] = {"区役所が採用した値", "Value city hall chose"},
    [WW_CONFLICT_DELETE] = {"（削除と編集の食い違い）", "(a deletion met an edit)"},
    [WW_CONFLICT_NONE_VALUE] = {"（なし）", "(none)"},
    [WW_CONFLICT_WAIT] = {"同じ欄が二か所で別々に変更されました。どちらの値も失われていません。区役所の担当者が決めるま"
                          "で、上の値が使われます。",
                          "The same field was changed in two places. Neither value is lost: the one above is used "
                          "until city hall decides."},
    [WW_STATUS_DEFAULT] = {"報告済み", "Reported"},
    [WW_NOT_FOUND] = {"ページが見つかりません", "Page not found"},
    [WW_NOT_FOUND_DETAIL] = {"この記録はこのPCにありません。", "This record is not on this PC."},
    [WW_ERROR_TITLE] = {"記録できませんでした", "Nothing was recorded"},
    [WW_ERROR_DETAIL] = {"このPCの記録の保存先で問題が起きました。情報システム担当者に次の内容を伝えてください。",
                         "The store of this PC reported a problem. Tell the IT staff what it says:"},
    [WW_REFUSED_TITLE] = {"この操作は受け付けられませんでした", "This request was refused"},
    [WW_REFUSED_SESSION] =
        {"画面を開いてから時間がたったか、記録プログラムが再起動されました。ホームからもう一度操作してください。",
         "The page is too old or the agent was restarted. Start again from the home page."},
    [WW_REFUSED_ORIGIN] = {"このPCの記録画面以外のページから送られた操作は受け付けません。",
                           "Requests sent from a page other than this PC's record form are refused."},
    [WW_REFUSED_TOKEN] = {"確認用の符号（トークン）がないか一致しません。ホームからもう一度操作してください。",
                          "The form's security token is missing or wrong. Start again from the home page."},
    [WW_COMMENT] = {"コメントあり", "comment"},
    [WW_EDIT] = {"内容を修正する", "Correct this record"},
    [WW_EDIT_TITLE] = {"修正", "correction"},
    [WW_EDIT_SUBMIT] = {"修正を保存する", "Save the correction"},
    [WW_EDITED] = {"修正しました。", "Corrected."},
    [WW_EDITED_DETAIL] = {"変えた欄だけをこのPCに保存しました。次の同期で区役所（ハブ）に送られます。",
                          "The fields you changed are saved on this PC and go to city hall (the hub) with the "
                          "next sync."},
    [WW_EDIT_UNCHANGED] = {"変更された欄がないため、何も保存していません。",
                           "No field was changed, so nothing was saved."},
    [WW_EDIT_NOT_SAVED] = {"修正はまだ保存されていません。", "The correction is not saved yet."},
    [WW_EDIT_NOT_EDITABLE] = {"この記録は修正できません。", "This record cannot be corrected."},
    [WW_EDIT_LEDGER] = {"台帳の記入は修正できません。訂正は新しい記入として記録してください。",
                        "Ledger entries are never changed: record the correction as a new entry."},
    [WW_EDIT_CHANGED_MEANWHILE] = {"編集中に同期でこの欄が変わりました。確認してもう一度保存してください。今の値: ",
                                   "While you were editing, a sync changed this field. Check it and save again. "
                                   "It now holds: "},
    [WW_EDIT_CHANGED_TITLE] = {"編集中に記録が変わりました", "The record changed while you were editing"},
    [WW_FOOTER] = {"記録はこのPCに保存され、区役所（ハブ）と同期されます。",
                   "Records are kept on this PC and synced with city hall (the hub)."},
};

/* The words that are formats take at most two numbers, both unsigned long long (%llu). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
const char *web_wordf(struct web_req *r, enum web_word w, unsigned long long a, unsigned long long b)
{
	char buf[512];
	const char *out;

	snprintf(buf, sizeof buf, web_word(w, r->lang), a, b);
	out = kr_arena_strdup(&r->arena, buf);
	return out ? out : "";
}
#pragma GCC diagnostic pop

const char *web_word(enum web_word w, const char *lang)
{
	int i = lang && strcmp(lang, "en") == 0 ? 1 : 0;

	if ((unsigned)w >= WW_COUNT_ || !words[w][i])
		return "?";
	return words[w][i];
}
