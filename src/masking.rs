//! What the public may see of a name or a code: shown on progress queries, verification pages
//! and licence shares, never the whole.

/// A credit code or an already masked ID as the public may see it: the first and last four
/// characters (`9122**********34X5`).
pub fn mask_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// 张三 → 张*; 大安市某某餐饮有限公司 → 大安市某**********.
pub fn mask_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let keep = if chars.len() > 6 { 4 } else { 1 };
    let shown: String = chars.iter().take(keep).collect();
    format!("{shown}{}", "*".repeat(chars.len().saturating_sub(keep)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_codes_keep_only_their_ends() {
        assert_eq!(mask_name("张三"), "张*");
        assert_eq!(mask_name("欧阳娜娜"), "欧***");
        assert_eq!(mask_name("大安市某某餐饮有限公司"), "大安市某*******");
        assert_eq!(mask_code("91220882MA0000034X"), "9122**********034X");
        assert_eq!(mask_code("12345678"), "********");
    }
}
