-- 0004_token_cancel.sql: enrolment tokens the operator cancelled (kiroku-hub enroll-token cancel). Applied in one
-- transaction by the store after 0003; PRAGMA user_version becomes 4.
--
-- enroll_tokens (hub), new columns. A cancelled token is refused at enrolment like a used or expired one, and no
-- longer keeps enrolment open (clients without a certificate). Only a token that is neither used, cancelled nor
-- expired can be cancelled; the cancellation is written to the audit log ("token.cancel") in the same transaction.
--   cancelled_ms   when the operator cancelled it (Unix ms, hub clock); NULL if not cancelled
--   cancelled_by   the operator who cancelled it ("operator:alice"); NULL if not cancelled
--   cancel_reason  the operator's reason, free text ('' for none); NULL if not cancelled
ALTER TABLE enroll_tokens ADD COLUMN cancelled_ms INTEGER;
ALTER TABLE enroll_tokens ADD COLUMN cancelled_by TEXT;
ALTER TABLE enroll_tokens ADD COLUMN cancel_reason TEXT;
