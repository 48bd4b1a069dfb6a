//! A lenient check of `xsd:dateTime` text. The decoder keeps the raw text either way; this
//! only decides which warning, if any, to raise.

/// How a dateTime string looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DateTimeCheck {
    /// `YYYY-MM-DDThh:mm:ss[.f+](Z|±hh:mm)`
    Valid,
    /// Valid but without a zone designator.
    NoZone,
    /// Anything else.
    Invalid,
}

/// Check `s` (already trimmed) against the `xsd:dateTime` lexical form.
pub(crate) fn check(s: &str) -> DateTimeCheck {
    let b = s.as_bytes();
    let mut i = 0;
    if b.first() == Some(&b'-') {
        i += 1;
    }
    let year_start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i - year_start < 4 {
        return DateTimeCheck::Invalid;
    }
    let Some(month) = sep_two(b, &mut i, b'-') else {
        return DateTimeCheck::Invalid;
    };
    let Some(day) = sep_two(b, &mut i, b'-') else {
        return DateTimeCheck::Invalid;
    };
    let Some(hour) = sep_two(b, &mut i, b'T') else {
        return DateTimeCheck::Invalid;
    };
    let Some(minute) = sep_two(b, &mut i, b':') else {
        return DateTimeCheck::Invalid;
    };
    let Some(second) = sep_two(b, &mut i, b':') else {
        return DateTimeCheck::Invalid;
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 24
        || minute > 59
        || second > 60
    {
        return DateTimeCheck::Invalid;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let frac_start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac_start {
            return DateTimeCheck::Invalid;
        }
    }
    match b.get(i) {
        None => DateTimeCheck::NoZone,
        Some(b'Z') if i + 1 == b.len() => DateTimeCheck::Valid,
        Some(b'+' | b'-') => {
            i += 1;
            let Some(zh) = two(b, &mut i) else {
                return DateTimeCheck::Invalid;
            };
            let Some(zm) = sep_two(b, &mut i, b':') else {
                return DateTimeCheck::Invalid;
            };
            if i == b.len() && zh <= 14 && zm <= 59 {
                DateTimeCheck::Valid
            } else {
                DateTimeCheck::Invalid
            }
        }
        _ => DateTimeCheck::Invalid,
    }
}

fn two(b: &[u8], i: &mut usize) -> Option<u32> {
    let d1 = *b.get(*i)?;
    let d2 = *b.get(*i + 1)?;
    if !d1.is_ascii_digit() || !d2.is_ascii_digit() {
        return None;
    }
    *i += 2;
    Some(u32::from(d1 - b'0') * 10 + u32::from(d2 - b'0'))
}

fn sep_two(b: &[u8], i: &mut usize, sep: u8) -> Option<u32> {
    if *b.get(*i)? != sep {
        return None;
    }
    *i += 1;
    two(b, i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes() {
        assert_eq!(check("2024-01-02T03:04:05Z"), DateTimeCheck::Valid);
        assert_eq!(check("2024-01-02T03:04:05.123+02:00"), DateTimeCheck::Valid);
        assert_eq!(check("0001-01-01T00:00:00Z"), DateTimeCheck::Valid);
        assert_eq!(check("1970-01-01T00:00:00"), DateTimeCheck::NoZone);
        assert_eq!(check("2019-03-05T11:54::14"), DateTimeCheck::Invalid);
        assert_eq!(check(""), DateTimeCheck::Invalid);
        assert_eq!(check("2024-13-02T03:04:05Z"), DateTimeCheck::Invalid);
        assert_eq!(check("2024-01-02T03:04:05Zx"), DateTimeCheck::Invalid);
        assert_eq!(check("2024-01-02 03:04:05"), DateTimeCheck::Invalid);
    }
}
