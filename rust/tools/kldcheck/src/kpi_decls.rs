//! The set of functions and variables the FreeBSD headers declare, taken
//! from a preprocessed header list (`clang-14 -E ... > kpi.i`).
//!
//! A module may reference a kernel symbol only through a declaration in the
//! headers it was built against; anything else (a hand-written prototype of
//! an internal function, a symbol from a newer kernel, a debug-only helper)
//! is a load failure waiting to happen.  Preprocessing with the module's own
//! flags means `#ifdef INVARIANTS`-only declarations are already absent.
//!
//! Heuristics (good enough for system headers; documented so nobody trusts
//! them for more):
//! - only file scope counts: nothing inside `{...}` (struct members,
//!   enumerators, inline function bodies) and nothing in parameter lists;
//! - a function is an identifier directly followed by `(` in a declaration
//!   that does not start with `typedef` (so `static inline` definitions are
//!   included too, which is harmless: they are never undefined symbols);
//! - a variable is recorded only from `extern` declarations: the declarator
//!   name followed by `;`, `,`, `=`, `[` or an attribute;
//! - `(*name)` declarators (function pointers, functions returning them)
//!   are understood; a type name before `(*` is not mistaken for a function;
//! - tags after `struct`/`union`/`enum`, keywords, and the arguments of
//!   `__attribute__`, `__asm__`, `__typeof__`, `_Static_assert`, `sizeof`
//!   and friends are skipped;
//! - `__asm__("name")` symbol renaming is not followed (the kernel headers
//!   do not use it).

use std::collections::HashSet;

use crate::c_tokens::{tokenize, Token};

pub struct KpiDecls {
    names: HashSet<String>,
}

/// Keywords that take a parenthesised argument which is not a declarator.
const KEYWORDS_WITH_ARGUMENT: &[&str] = &[
    "__attribute__",
    "__attribute",
    "__asm__",
    "__asm",
    "asm",
    "__typeof__",
    "__typeof",
    "typeof",
    "typeof_unqual",
    "__typeof_unqual__",
    "_Static_assert",
    "static_assert",
    "sizeof",
    "_Alignof",
    "alignof",
    "__alignof__",
    "__alignof",
    "_Alignas",
    "alignas",
    "_Atomic",
    "__declspec",
    "_Generic",
    "__builtin_offsetof",
    "__builtin_va_arg",
];

/// Keywords and builtin type names: never a declared name.
const KEYWORDS: &[&str] = &[
    "auto",
    "break",
    "case",
    "char",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extern",
    "float",
    "for",
    "goto",
    "if",
    "inline",
    "int",
    "long",
    "register",
    "restrict",
    "return",
    "short",
    "signed",
    "static",
    "struct",
    "switch",
    "typedef",
    "union",
    "unsigned",
    "void",
    "volatile",
    "while",
    "_Bool",
    "bool",
    "_Complex",
    "_Imaginary",
    "_Noreturn",
    "_Thread_local",
    "__thread",
    "__inline",
    "__inline__",
    "__restrict",
    "__restrict__",
    "__volatile__",
    "__volatile",
    "__const",
    "__const__",
    "__signed",
    "__signed__",
    "__extension__",
    "__int128",
    "__int128_t",
    "__uint128_t",
    "__builtin_va_list",
    "__label__",
    "_Float16",
    "__fp16",
    "_Nonnull",
    "_Nullable",
    "_Null_unspecified",
    "__unaligned",
];

#[derive(Clone, Copy, PartialEq, Eq)]
enum Paren {
    /// `(*name)` around a declarator at file scope.
    DeclaratorGroup,
    /// Parameter lists and anything else whose contents we ignore.
    Other,
}

impl KpiDecls {
    pub fn from_names<I: IntoIterator<Item = String>>(names: I) -> Self {
        Self {
            names: names.into_iter().collect(),
        }
    }

    pub fn from_preprocessed(source: &str) -> Self {
        Self::from_names(declared_names(&tokenize(source)))
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }
}

fn declared_names(tokens: &[Token<'_>]) -> Vec<String> {
    let mut names = Vec::new();
    let mut braces = 0usize;
    let mut brackets = 0usize;
    let mut parens: Vec<Paren> = Vec::new();
    // Per-declaration state, reset at each file-scope `;` or function body.
    let mut is_typedef = false;
    let mut is_extern = false;
    let mut in_initializer = false;
    let mut body_follows = false;
    let mut in_function_body = false;

    let mut i = 0;
    while i < tokens.len() {
        let token = &tokens[i];
        let next = tokens.get(i + 1);
        let previous = i.checked_sub(1).map(|p| &tokens[p]);
        let at_file_scope = braces == 0 && brackets == 0;
        match *token {
            Token::Punct('{') => {
                if braces == 0 && parens.is_empty() && body_follows && !in_initializer {
                    in_function_body = true;
                }
                braces += 1;
            }
            Token::Punct('}') => {
                braces = braces.saturating_sub(1);
                if braces == 0 && in_function_body {
                    (
                        is_typedef,
                        is_extern,
                        in_initializer,
                        body_follows,
                        in_function_body,
                    ) = (false, false, false, false, false);
                }
            }
            _ if braces > 0 => {}
            Token::Punct('[') => brackets += 1,
            Token::Punct(']') => brackets = brackets.saturating_sub(1),
            Token::Punct('(') => {
                let kind = if at_file_scope && parens.is_empty() && next == Some(&Token::Punct('*'))
                {
                    Paren::DeclaratorGroup
                } else {
                    Paren::Other
                };
                parens.push(kind);
            }
            Token::Punct(')') => {
                parens.pop();
                if parens.is_empty() {
                    // `int f(void) {` or `(*f(void))(int) {`: a body may follow.
                    body_follows = true;
                }
            }
            Token::Punct(';') if at_file_scope && parens.is_empty() => {
                (is_typedef, is_extern, in_initializer, body_follows) =
                    (false, false, false, false);
            }
            Token::Punct(',') if at_file_scope && parens.is_empty() => in_initializer = false,
            Token::Punct('=') if at_file_scope && parens.is_empty() => in_initializer = true,
            Token::Ident(word)
                if KEYWORDS_WITH_ARGUMENT.contains(&word) && next == Some(&Token::Punct('(')) =>
            {
                i = skip_group(tokens, i + 1);
                continue;
            }
            Token::Ident("typedef") => is_typedef = true,
            Token::Ident("extern") => is_extern = true,
            // `_Atomic` without parentheses is a qualifier.
            Token::Ident(word)
                if KEYWORDS.contains(&word) || KEYWORDS_WITH_ARGUMENT.contains(&word) => {}
            Token::Ident(name) => {
                let is_tag = matches!(previous, Some(Token::Ident("struct" | "union" | "enum")));
                let in_group = parens == [Paren::DeclaratorGroup];
                let candidate = at_file_scope
                    && !is_tag
                    && !is_typedef
                    && !in_initializer
                    && (parens.is_empty() || in_group);
                if candidate {
                    let after_paren = tokens.get(i + 2);
                    let is_function =
                        next == Some(&Token::Punct('(')) && after_paren != Some(&Token::Punct('*'));
                    let ends_variable = match next {
                        Some(Token::Punct(';' | ',' | '=' | '[')) => parens.is_empty(),
                        Some(Token::Punct(')')) => in_group,
                        Some(Token::Ident(word)) => KEYWORDS_WITH_ARGUMENT.contains(word),
                        _ => false,
                    };
                    if is_function || (is_extern && ends_variable) {
                        names.push((*name).to_owned());
                    }
                }
            }
            _ => {}
        }
        i += 1;
    }
    names
}

/// Index just past the parenthesised group that opens at `open`.
fn skip_group(tokens: &[Token<'_>], open: usize) -> usize {
    let mut depth = 0usize;
    for (offset, token) in tokens[open..].iter().enumerate() {
        match token {
            Token::Punct('(') => depth += 1,
            Token::Punct(')') => {
                depth -= 1;
                if depth == 0 {
                    return open + offset + 1;
                }
            }
            _ => {}
        }
    }
    tokens.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(source: &str) -> Vec<String> {
        let mut names = declared_names(&tokenize(source));
        names.sort();
        names
    }

    #[test]
    fn prototypes_with_attributes() {
        assert_eq!(
            names("int printf(const char *, ...) __attribute__((__format__ (__printf__, 1, 2)));"),
            ["printf"]
        );
        assert_eq!(names("int foo(int), bar(void);"), ["bar", "foo"]);
        assert_eq!(
            names("struct module *module_lookupbyname(const char *);"),
            ["module_lookupbyname"]
        );
    }

    #[test]
    fn extern_variables_only() {
        assert_eq!(names("extern int bootverbose;"), ["bootverbose"]);
        assert_eq!(names("extern struct sx modules_sx;"), ["modules_sx"]);
        assert_eq!(names("extern const char version[];"), ["version"]);
        assert_eq!(
            names("extern char *panicstr, *other;"),
            ["other", "panicstr"]
        );
        assert_eq!(names("extern int w __attribute__((weak));"), ["w"]);
        // A tentative definition in a header is not an extern declaration.
        assert!(names("int counter;").is_empty());
    }

    #[test]
    fn typedefs_tags_and_members_are_not_declarations() {
        assert!(names("typedef int (*modeventhand_t)(struct module *, int, void *);").is_empty());
        assert!(names("typedef unsigned int u_int;").is_empty());
        assert!(names("typedef int fn_t(int);").is_empty());
        assert!(names("struct mod_depend { int md_ver_minimum; void (*cb)(int); };").is_empty());
        assert!(names("enum { A = 1, B };").is_empty());
        assert!(names("struct foo;").is_empty());
        assert!(names("_Static_assert(sizeof(int) == 4, \"int\");").is_empty());
    }

    #[test]
    fn inline_bodies_are_skipped() {
        let source = "static inline int wrap(int a) { return inner(a); }\nextern int after;";
        assert_eq!(names(source), ["after", "wrap"]);
    }

    #[test]
    fn function_pointer_declarators() {
        assert_eq!(names("extern int (*hook)(int);"), ["hook"]);
        assert_eq!(
            names("void (*signal(int sig, void (*func)(int)))(int);"),
            ["signal"]
        );
        // The type name in front of `(*` is not a function.
        assert_eq!(names("extern u_int (*fp)(void);"), ["fp"]);
        // Not extern: a definition, not a KPI declaration.
        assert!(names("int (*local_hook)(int);").is_empty());
    }

    #[test]
    fn line_markers_and_initializers() {
        let source = "# 1 \"sys/systm.h\" 1 3\nextern int a = sizeof(struct x), b;\nint c = d;\n";
        assert_eq!(names(source), ["a", "b"]);
    }
}
