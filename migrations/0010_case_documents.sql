-- A document's printed title (受理通知书, 食品经营许可证…), for lists and the verification page.
ALTER TABLE case_document ADD COLUMN title text NOT NULL DEFAULT '';

-- Sealed case documents in the results: the notices that issue a document link to it, and
-- the result notices (不予受理, 准予许可, 不予许可) carry an email text, which goes with the
-- sealed decision attached when the applicant has a verified email address.

INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject, email_body, variables, created_by) VALUES
('case.accepted', 2,
 '您申请的“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结。受理通知书：{document_url}',
 '已受理', '“{item}”已受理，受理编号{acceptance_number}，承诺{deadline}前办结。',
 NULL, NULL,
 ARRAY['item', 'acceptance_number', 'deadline', 'document_url'], 'migration'),
('case.correction_requested', 2,
 '您申请的“{item}”需补正材料：{missing}。请在指尖办一次性补齐。补正告知书：{document_url}',
 '请补正材料', '“{item}”需补正：{missing}。请一次性补齐后提交。',
 NULL, NULL,
 ARRAY['item', 'missing', 'document_url'], 'migration'),
('case.rejected', 2,
 '您申请的“{item}”不予受理，理由：{reason}。决定书：{document_url}',
 '不予受理', '“{item}”不予受理，理由：{reason}。',
 '不予受理决定书：{item}',
 '您申请的“{item}”不予受理，理由：{reason}。加盖电子印章的不予受理决定书见附件，也可在指尖办下载：{document_url}',
 ARRAY['item', 'reason', 'document_url'], 'migration'),
('case.approved', 2,
 '您的办件{acceptance_number}（{item}）已办结：准予许可。决定书：{document_url}',
 '已办结：准予许可', '办件{acceptance_number}（{item}）准予许可，电子证照已存入您的证照库。',
 '准予许可：{item}（{acceptance_number}）',
 '您的办件{acceptance_number}（{item}）已办结：准予许可。加盖电子印章的决定书见附件，电子证照已存入指尖办证照库，也可在此下载：{document_url}',
 ARRAY['acceptance_number', 'item', 'document_url'], 'migration'),
('case.denied', 2,
 '您的办件{acceptance_number}（{item}）已办结：不予许可，理由：{reasons}。{remedies} 决定书：{document_url}',
 '已办结：不予许可', '办件{acceptance_number}不予许可，理由：{reasons}。',
 '不予许可：{item}（{acceptance_number}）',
 '您的办件{acceptance_number}（{item}）已办结：不予许可，理由：{reasons}。{remedies} 加盖电子印章的决定书见附件，也可在指尖办下载：{document_url}',
 ARRAY['acceptance_number', 'item', 'reasons', 'remedies', 'document_url'], 'migration');
