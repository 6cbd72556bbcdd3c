-- The applicant of an open case whose item was cancelled is told at once (must reach): the
-- case cannot be approved as applied for; the department terminates it, or records the legal
-- basis on which it goes on (`cases::service::cancelled_items`).
INSERT INTO notification_template (key, version, sms_body, push_title, push_body, email_subject, email_body, variables, created_by) VALUES
('case.item_cancelled', 1,
 '您申请的“{item}”（{acceptance_number}）所属事项已取消，原因：{reason}。承办部门将依法终止办理或告知后续安排，详情请见指尖办。',
 '申请事项已取消', '“{item}”所属事项已取消，原因：{reason}。承办部门将依法终止办理或告知后续安排。',
 NULL, NULL,
 ARRAY['item', 'acceptance_number', 'reason'], 'migration');
