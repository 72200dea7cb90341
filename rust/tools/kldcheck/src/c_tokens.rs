//! A tokenizer for preprocessed C (`clang -E` output), just precise enough
//! to find declarations: identifiers, single-character punctuation, and
//! literals collapsed to one token.  Line markers (`# 12 "file.h" 1 3`) and
//! leftover `#pragma` lines are dropped; comments are skipped in case the
//! file was made with `-C`.

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Token<'src> {
    Ident(&'src str),
    /// Any one punctuation character; multi-character operators never
    /// matter at file scope.
    Punct(char),
    /// A number, string or character literal.
    Literal,
}

pub fn tokenize(source: &str) -> Vec<Token<'_>> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut at_line_start = true;
    let mut i = 0;
    while i < bytes.len() {
        let byte = bytes[i];
        match byte {
            b'\n' => {
                at_line_start = true;
                i += 1;
            }
            b' ' | b'\t' | b'\r' | b'\x0c' | b'\x0b' => i += 1,
            b'#' if at_line_start => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'/') => i = skip_line(bytes, i),
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = find(bytes, i + 2, b"*/").map_or(bytes.len(), |end| end + 2);
            }
            b'"' | b'\'' => {
                at_line_start = false;
                i = skip_quoted(bytes, i);
                tokens.push(Token::Literal);
            }
            b'0'..=b'9' => {
                at_line_start = false;
                i = skip_number(bytes, i);
                tokens.push(Token::Literal);
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) => {
                at_line_start = false;
                i = skip_number(bytes, i);
                tokens.push(Token::Literal);
            }
            _ if is_ident_start(byte) => {
                at_line_start = false;
                let start = i;
                while i < bytes.len() && is_ident_continue(bytes[i]) {
                    i += 1;
                }
                tokens.push(Token::Ident(&source[start..i]));
            }
            _ => {
                at_line_start = false;
                // Step over a whole UTF-8 character (only ever seen inside
                // literals in practice, but stay on char boundaries).
                let character = source[i..].chars().next().unwrap_or('\u{fffd}');
                tokens.push(Token::Punct(character));
                i += character.len_utf8();
            }
        }
    }
    tokens
}

fn is_ident_start(byte: u8) -> bool {
    byte.is_ascii_alphabetic() || byte == b'_' || byte == b'$'
}

fn is_ident_continue(byte: u8) -> bool {
    is_ident_start(byte) || byte.is_ascii_digit()
}

fn skip_line(bytes: &[u8], from: usize) -> usize {
    bytes[from..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| from + n)
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|n| from + n)
}

/// Skips a string or character literal, honouring backslash escapes.
fn skip_quoted(bytes: &[u8], from: usize) -> usize {
    let quote = bytes[from];
    let mut i = from + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'\n' => return i,
            byte if byte == quote => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skips a preprocessing number: digits, letters, `.`, `_`, and a sign
/// right after an exponent letter (1e+5, 0x1p-3).
fn skip_number(bytes: &[u8], from: usize) -> usize {
    let mut i = from;
    while i < bytes.len() {
        let byte = bytes[i];
        let after_exponent = i > from && matches!(bytes[i - 1], b'e' | b'E' | b'p' | b'P');
        if byte.is_ascii_alphanumeric()
            || byte == b'.'
            || byte == b'_'
            || (after_exponent && matches!(byte, b'+' | b'-'))
        {
            i += 1;
        } else {
            break;
        }
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_line_markers_and_collapses_literals() {
        let tokens =
            tokenize("# 1 \"a.h\" 1 3\nint x = 0x1p-3 + 'a'; /* c */ char *s = \"a\\\"b\";\n");
        assert_eq!(
            tokens,
            vec![
                Token::Ident("int"),
                Token::Ident("x"),
                Token::Punct('='),
                Token::Literal,
                Token::Punct('+'),
                Token::Literal,
                Token::Punct(';'),
                Token::Ident("char"),
                Token::Punct('*'),
                Token::Ident("s"),
                Token::Punct('='),
                Token::Literal,
                Token::Punct(';'),
            ]
        );
    }
}
