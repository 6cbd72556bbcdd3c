//! The problems the calendar capability can send (the working-day calendar), each with its code,
//! HTTP status and Chinese title together.
//!
//! To send a new one, add a variant here (its code, status and title) and construct the error with
//! `AppError::new(CalendarProblem::Variant, detail)`; see `crate::http::problem` and
//! docs/ARCHITECTURE.md.

use crate::http::declare::problems;

problems! {
    /// Every problem the calendar capability can send.
    pub enum CalendarProblem {
        YearNotLoaded = ("year_not_loaded", NOT_FOUND, "该年度工作日历尚未发布"),
        YearExists = ("year_exists", CONFLICT, "该年度工作日历已录入，请以更正方式修改"),
        YearMismatch = ("year_mismatch", UNPROCESSABLE_ENTITY, "请求中的年度与路径不一致"),
        InvalidCalendar = ("invalid_calendar", UNPROCESSABLE_ENTITY, "工作日历数据不正确"),
        DateOutOfRange = ("date_out_of_range", UNPROCESSABLE_ENTITY, "日期超出可计算范围"),
        DuplicateDate = ("duplicate_date", UNPROCESSABLE_ENTITY, "同一日期重复列出"),
        DateOnBothLists = ("date_on_both_lists", UNPROCESSABLE_ENTITY, "同一日期不能既放假又调休上班"),
        DateOutsideYear = ("date_outside_year", UNPROCESSABLE_ENTITY, "日期不在该年度内"),
        AdjustedDayNotWeekend = ("adjusted_day_not_weekend", UNPROCESSABLE_ENTITY, "调休上班日须为周六或周日"),
    }
}
