//! How a provisional count is told to people: one sentence for every view, notice and
//! document, so the app, the SMS and the sealed notice cannot say it differently.

/// The basis of a date counted across years without a published calendar, e.g.
/// "2027年节假日安排尚未公布，暂按周一至周五为工作日计算，以国务院公布的节假日安排为准".
/// `None` when no year was provisional.
pub fn basis(years: &[i32]) -> Option<String> {
    let (first, rest) = years.split_first()?;
    let named = match rest.last() {
        None => format!("{first}年"),
        Some(last) if rest.len() == 1 => format!("{first}年、{last}年"),
        Some(last) => format!("{first}年至{last}年"),
    };
    Some(format!(
        "{named}节假日安排尚未公布，暂按周一至周五为工作日计算，以国务院公布的节假日安排为准"
    ))
}

#[cfg(test)]
mod tests {
    use super::basis;

    #[test]
    fn the_basis_names_the_unpublished_years() {
        assert_eq!(basis(&[]), None);
        assert_eq!(
            basis(&[2027]).as_deref(),
            Some(
                "2027年节假日安排尚未公布，暂按周一至周五为工作日计算，以国务院公布的节假日安排为准"
            )
        );
        assert!(
            basis(&[2027, 2028])
                .unwrap()
                .starts_with("2027年、2028年节假日")
        );
        assert!(
            basis(&[2027, 2028, 2029])
                .unwrap()
                .starts_with("2027年至2029年节假日")
        );
    }
}
