//! IAM's rules for names and paths, checked offline.

/// IAM's name characters: `[A-Za-z0-9+=,.@_-]`.
pub fn check_name(kind: &str, name: &str, max: usize) -> Result<(), String> {
    if name.is_empty() {
        return Err(format!("{kind} name must not be empty"));
    }
    if name.chars().count() > max {
        return Err(format!(
            "{kind} name `{name}` is {} characters long; IAM allows at most {max}",
            name.chars().count()
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!(
            "{kind} name `{name}` contains {bad:?}; IAM names allow only letters, digits and + = , . @ _ -"
        ));
    }
    Ok(())
}

/// IAM paths: `/` or `/a/b/`, printable ASCII, at most 512 characters.
pub fn check_path(path: &str) -> Result<(), String> {
    let shape_ok = path == "/"
        || (path.len() >= 3
            && path.starts_with('/')
            && path.ends_with('/')
            && !path.contains("//")
            && path.bytes().all(|b| (0x21..=0x7e).contains(&b)));
    if !shape_ok {
        return Err(format!(
            "path `{path}` is not valid: use `/` or `/name/.../` of printable ASCII without spaces"
        ));
    }
    if path.len() > 512 {
        return Err(format!(
            "path is {} characters long; IAM allows at most 512",
            path.len()
        ));
    }
    Ok(())
}

/// A 12-digit account id.
pub fn is_account_id(text: &str) -> bool {
    text.len() == 12 && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_follow_iams_shape() {
        assert!(check_path("/").is_ok());
        assert!(check_path("/koding/").is_ok());
        assert!(check_path("/a/b/").is_ok());
        for bad in ["", "koding", "/koding", "koding/", "//", "/a b/", "/a//b/"] {
            assert!(check_path(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
