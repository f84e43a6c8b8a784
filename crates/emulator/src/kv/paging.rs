//! Paging of list operations: `maxresults` (1..=25) and an opaque `$skiptoken` in `nextLink`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Largest page the service returns (also the default).
pub(crate) const MAX_RESULTS: usize = 25;
const TOKEN_PREFIX: &str = "vaultsync-emulator:";

/// A page request decoded from the query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageReq {
    pub max: usize,
    pub skip: usize,
}

/// Reads `maxresults` and `$skiptoken`; the error is the BadParameter message.
pub(crate) fn parse(maxresults: Option<&str>, skiptoken: Option<&str>) -> Result<PageReq, String> {
    let max = match maxresults {
        None | Some("") => MAX_RESULTS,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_RESULTS).contains(&n) => n,
            _ => {
                return Err(format!(
                    "Invalid value '{s}' for maxresults. The value must be between 1 and {MAX_RESULTS}."
                ));
            }
        },
    };
    let skip = match skiptoken {
        None | Some("") => 0,
        Some(t) => URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.strip_prefix(TOKEN_PREFIX).and_then(|n| n.parse().ok()))
            .ok_or_else(|| "The skip token is invalid.".to_owned())?,
    };
    Ok(PageReq { max, skip })
}

/// The skip token of the page starting at `skip`.
pub(crate) fn token(skip: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TOKEN_PREFIX}{skip}"))
}

/// Cuts one page out of `items`; returns the page and the skip token of the next page.
pub(crate) fn page<T>(items: Vec<T>, req: PageReq) -> (Vec<T>, Option<String>) {
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(req.skip).take(req.max).collect();
    let next = req.skip + page.len();
    let token = (next < total).then(|| token(next));
    (page, token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_through() {
        let req = parse(Some("2"), None).unwrap();
        let (p, t) = page((0..5).collect(), req);
        assert_eq!(p, vec![0, 1]);
        let req = parse(Some("2"), t.as_deref()).unwrap();
        let (p, t) = page((0..5).collect(), req);
        assert_eq!(p, vec![2, 3]);
        let (p, t) = page((0..5).collect(), parse(Some("2"), t.as_deref()).unwrap());
        assert_eq!((p, t), (vec![4], None));
        assert!(parse(Some("0"), None).is_err());
        assert!(parse(Some("26"), None).is_err());
        assert!(parse(Some("x"), None).is_err());
        assert!(parse(None, Some("!!")).is_err());
    }
}
