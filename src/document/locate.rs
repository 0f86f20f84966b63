//! Where each statement of a policy document starts in its JSON text, so that a finding about
//! a document in a JSON file names that file's line and column, not only the spec's.
//!
//! serde's JSON values carry no positions; this walks the text once, as a JSON tokenizer
//! does, and notes where each element of the top-level `Statement` (or the one statement
//! object) begins. It trusts the text to be JSON (the document was parsed already) and gives
//! up quietly otherwise: a finding then keeps the spec's location.

/// A 1-based line and column (in characters) in a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Where each statement starts, in order; empty when there is none to find.
pub fn statements(text: &str) -> Vec<Position> {
    let bytes = text.as_bytes();
    let mut offsets = Vec::new();
    // The containers we are in: `true` for an object, `false` for an array.
    let mut stack: Vec<bool> = Vec::new();
    // The last key read in each object, and whether the next value is the top-level
    // `Statement`'s.
    let mut key: Option<String> = None;
    let mut in_statement_array = false;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                let (string, end) = read_string(text, i);
                // A string right after `{` or `,` inside an object is a key.
                if stack.last() == Some(&true) && next_non_space(bytes, end) == Some(b':') {
                    key = Some(string);
                } else if stack.len() == 1 && key.as_deref() == Some("Statement") {
                    key = None;
                }
                i = end;
                continue;
            }
            b'{' => {
                if stack.len() == 1 && key.as_deref() == Some("Statement") {
                    // `"Statement": { ... }`: one statement.
                    offsets.push(i);
                } else if in_statement_array && stack.len() == 2 {
                    offsets.push(i);
                }
                stack.push(true);
                key = None;
            }
            b'[' => {
                if stack.len() == 1 && key.as_deref() == Some("Statement") {
                    in_statement_array = true;
                }
                stack.push(false);
                key = None;
            }
            b'}' | b']' => {
                stack.pop();
                if stack.len() == 1 {
                    in_statement_array = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    offsets.into_iter().map(|o| position(text, o)).collect()
}

/// A string starting at the quote at `start`, unescaped as far as keys need, and the offset
/// just after its closing quote.
fn read_string(text: &str, start: usize) -> (String, usize) {
    let bytes = text.as_bytes();
    let mut i = start + 1;
    let mut escaped = false;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if !escaped => escaped = true,
            b'"' if !escaped => break,
            _ => escaped = false,
        }
        i += 1;
    }
    let end = (i + 1).min(bytes.len());
    let inner = text.get(start + 1..i).unwrap_or_default().to_owned();
    (inner, end)
}

fn next_non_space(bytes: &[u8], from: usize) -> Option<u8> {
    bytes[from.min(bytes.len())..]
        .iter()
        .copied()
        .find(|b| !b.is_ascii_whitespace())
}

fn position(text: &str, offset: usize) -> Position {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    Position { line, column }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_statement_is_found_where_it_starts() {
        let text = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"A\", \"Action\": \"s3:*\"},\n    {\n      \"Resource\": [\"x\", {\"a\": 1}]\n    }\n  ]\n}\n";
        assert_eq!(
            statements(text),
            [
                Position { line: 4, column: 5 },
                Position { line: 5, column: 5 }
            ]
        );
    }

    #[test]
    fn a_single_statement_object_and_tricky_strings() {
        let text = r#"{"Id": "a \" } [ {", "Statement": {"Sid": "Statement", "Condition": {"Statement": [{}]}}}"#;
        assert_eq!(
            statements(text),
            [Position {
                line: 1,
                column: 35
            }]
        );
        assert!(statements("{\"Version\": \"2012-10-17\"}").is_empty());
        assert!(statements("not json [").is_empty());
    }
}
