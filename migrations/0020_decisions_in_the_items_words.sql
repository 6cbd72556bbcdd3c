-- Result notices in the item's own words (issue "the case as the law reads it", point 2): a
-- 行政给付 is "准予给付", a 行政确认 "予以确认"… (`cases::legal_frame`), and only an approval
-- that issued a licence says the licence is in the licence library ({result_note}).
-- A suspension extended past its special step's limit is told to the applicant.

INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject, email_body, variables, created_by) VALUES
('case.approved', 3,
 '您的办件{acceptance_number}（{item}）已办结：{outcome}。{result_note}决定书：{document_url}',
 '已办结：{outcome}', '办件{acceptance_number}（{item}）已办结：{outcome}。{result_note}',
 '{outcome}：{item}（{acceptance_number}）',
 '您的办件{acceptance_number}（{item}）已办结：{outcome}。加盖电子印章的决定书见附件，也可在指尖办下载：{document_url}。{result_note}',
 ARRAY['acceptance_number', 'item', 'outcome', 'result_note', 'document_url'], 'migration'),
('case.denied', 3,
 '您的办件{acceptance_number}（{item}）已办结：{outcome}，理由：{reasons}。{remedies} 决定书：{document_url}',
 '已办结：{outcome}', '办件{acceptance_number}（{item}）已办结：{outcome}，理由：{reasons}。',
 '{outcome}：{item}（{acceptance_number}）',
 '您的办件{acceptance_number}（{item}）已办结：{outcome}，理由：{reasons}。{remedies} 加盖电子印章的决定书见附件，也可在指尖办下载：{document_url}',
 ARRAY['acceptance_number', 'item', 'outcome', 'reasons', 'remedies', 'document_url'], 'migration'),
('case.suspension_extended', 1,
 '您的办件{acceptance_number}的{special_step}环节延长至{expected_end}，理由：{reason}。',
 '特殊环节延长', '办件{acceptance_number}的{special_step}环节延长至{expected_end}，理由：{reason}。',
 NULL, NULL,
 ARRAY['acceptance_number', 'special_step', 'expected_end', 'reason'], 'migration');
