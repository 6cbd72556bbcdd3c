//! What the publication check needs to know from outside the draft: the departments and main
//! items that exist and the files on record (the service answers from the database).

/// What the publication check needs to know from outside the draft.
pub struct PublishContext<'a> {
    pub item_code: &'a str,
    pub known_department: &'a (dyn Fn(&str) -> bool + Sync),
    pub lead_department_code: &'a str,
    /// Whether a code names a published main item.
    pub known_main_item: &'a (dyn Fn(&str) -> bool + Sync),
    pub known_blob: &'a (dyn Fn(&str) -> bool + Sync),
}
