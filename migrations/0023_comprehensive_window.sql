-- 一窗受理 [002 三(四)1: 前台综合受理、后台分类审批、统一窗口出件]: the window clerks of a
-- department flagged as the platform centre's comprehensive window (综合受理窗口) take in cases
-- for any department's item and route them to the back office.
ALTER TABLE department ADD COLUMN comprehensive_window boolean NOT NULL DEFAULT false;
