//! A deliberately small shell-script splitter for allowlist checks.
//!
//! It does not try to understand shell: it only finds the command segments a script runs and
//! refuses (returns [`NotAllowlistable`]) anything whose effect it cannot see from the words
//! alone — redirections, substitutions, subshells, unbalanced quotes. Over-splitting is
//! harmless (every extra segment must be allowlisted too), so when in doubt it splits.

use std::fmt;

/// Which quoting rules the script follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `sh -c`, `bash -lc`, …: quotes, backslash escapes, `$(…)`, backticks.
    Posix,
    /// `cmd.exe /c`: only double quotes; `^` escapes and `%VAR%` expansion are opaque to us.
    Cmd,
}

/// Why a script can only run with a person's approval (or `security=full`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAllowlistable {
    Redirection,
    CommandSubstitution,
    Subshell,
    UnbalancedQuote,
    TrailingEscape,
    CmdMeta,
}

impl fmt::Display for NotAllowlistable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NotAllowlistable::Redirection => "redirection",
            NotAllowlistable::CommandSubstitution => "command substitution",
            NotAllowlistable::Subshell => "subshell or grouping",
            NotAllowlistable::UnbalancedQuote => "unbalanced quote",
            NotAllowlistable::TrailingEscape => "trailing escape",
            NotAllowlistable::CmdMeta => "cmd.exe escape or variable expansion",
        })
    }
}

/// Split a script into segments (words with quotes removed), one per command it runs.
pub fn split_script(script: &str, dialect: Dialect) -> Result<Vec<Vec<String>>, NotAllowlistable> {
    let mut splitter = Splitter { segments: Vec::new(), words: Vec::new(), word: String::new(), in_word: false };
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            ' ' | '\t' | '\r' => splitter.end_word(),
            '\n' | ';' => splitter.end_segment(),
            '&' | '|' => {
                if c == '&' && next == Some('>') {
                    return Err(NotAllowlistable::Redirection);
                }
                // `&&`, `||`, `|&` and a lone `&` (background, or cmd's sequence) all start a new command.
                if next == Some('&') || next == Some('|') {
                    i += 1;
                }
                splitter.end_segment();
            }
            '>' | '<' => return Err(NotAllowlistable::Redirection),
            '(' | ')' => return Err(NotAllowlistable::Subshell),
            '`' if dialect == Dialect::Posix => return Err(NotAllowlistable::CommandSubstitution),
            '$' if dialect == Dialect::Posix && next == Some('(') => return Err(NotAllowlistable::CommandSubstitution),
            '%' | '^' if dialect == Dialect::Cmd => return Err(NotAllowlistable::CmdMeta),
            '\\' if dialect == Dialect::Posix => {
                match next {
                    Some('\n') => {}
                    Some(escaped) => splitter.push(escaped),
                    None => return Err(NotAllowlistable::TrailingEscape),
                }
                i += 1;
            }
            '\'' if dialect == Dialect::Posix => {
                let close = find(&chars, i + 1, '\'').ok_or(NotAllowlistable::UnbalancedQuote)?;
                splitter.in_word = true;
                chars[i + 1..close].iter().for_each(|&q| splitter.push(q));
                i = close;
            }
            '"' => i = splitter.double_quoted(&chars, i + 1, dialect)?,
            other => splitter.push(other),
        }
        i += 1;
    }
    splitter.end_segment();
    Ok(splitter.segments)
}

fn find(chars: &[char], from: usize, target: char) -> Option<usize> {
    chars.get(from..)?.iter().position(|&c| c == target).map(|p| p + from)
}

struct Splitter {
    segments: Vec<Vec<String>>,
    words: Vec<String>,
    word: String,
    /// Set by quotes so that `""` still yields an (empty) word.
    in_word: bool,
}

impl Splitter {
    fn push(&mut self, c: char) {
        self.word.push(c);
        self.in_word = true;
    }

    fn end_word(&mut self) {
        if self.in_word {
            self.words.push(std::mem::take(&mut self.word));
            self.in_word = false;
        }
    }

    fn end_segment(&mut self) {
        self.end_word();
        if !self.words.is_empty() {
            self.segments.push(std::mem::take(&mut self.words));
        }
    }

    /// Consume a double-quoted string starting after its opening quote; returns the index
    /// of the closing quote.
    fn double_quoted(&mut self, chars: &[char], mut i: usize, dialect: Dialect) -> Result<usize, NotAllowlistable> {
        self.in_word = true;
        while let Some(&c) = chars.get(i) {
            let next = chars.get(i + 1).copied();
            match (dialect, c) {
                (_, '"') => return Ok(i),
                (Dialect::Posix, '`') => return Err(NotAllowlistable::CommandSubstitution),
                (Dialect::Posix, '$') if next == Some('(') => return Err(NotAllowlistable::CommandSubstitution),
                (Dialect::Posix, '\\') if matches!(next, Some('"' | '\\' | '$' | '`' | '\n')) => {
                    if let Some(escaped) = next.filter(|&n| n != '\n') {
                        self.word.push(escaped);
                    }
                    i += 1;
                }
                (Dialect::Cmd, '%') => return Err(NotAllowlistable::CmdMeta),
                (_, other) => self.word.push(other),
            }
            i += 1;
        }
        Err(NotAllowlistable::UnbalancedQuote)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn posix(s: &str) -> Result<Vec<Vec<String>>, NotAllowlistable> {
        split_script(s, Dialect::Posix)
    }

    fn segs(s: &str) -> Vec<Vec<String>> {
        posix(s).unwrap()
    }

    fn v(words: &[&[&str]]) -> Vec<Vec<String>> {
        words.iter().map(|w| w.iter().map(|s| s.to_string()).collect()).collect()
    }

    #[test]
    fn splits_on_every_separator() {
        assert_eq!(segs("ls && rm x"), v(&[&["ls"], &["rm", "x"]]));
        assert_eq!(segs("a || b; c | d\ne"), v(&[&["a"], &["b"], &["c"], &["d"], &["e"]]));
        assert_eq!(segs("a & b"), v(&[&["a"], &["b"]]));
        assert_eq!(segs("a |& b"), v(&[&["a"], &["b"]]));
        assert_eq!(segs("a&&b||c"), v(&[&["a"], &["b"], &["c"]]));
        assert_eq!(segs("sleep 1 &"), v(&[&["sleep", "1"]]));
    }

    #[test]
    fn empty_segments_are_dropped() {
        assert_eq!(segs(""), Vec::<Vec<String>>::new());
        assert_eq!(segs("  ;; \n ls -la ;"), v(&[&["ls", "-la"]]));
    }

    #[test]
    fn quotes_keep_separators_inside_one_word() {
        assert_eq!(segs(r#"echo "a && b""#), v(&[&["echo", "a && b"]]));
        assert_eq!(segs("echo 'x; y | z'"), v(&[&["echo", "x; y | z"]]));
        assert_eq!(segs(r#"echo "it's" 'say "hi"'"#), v(&[&["echo", "it's", "say \"hi\""]]));
        assert_eq!(segs(r#"echo "" ''"#), v(&[&["echo", "", ""]]));
        assert_eq!(segs(r#"a"b"'c'd"#), v(&[&["abcd"]]));
    }

    #[test]
    fn redirection_symbols_inside_quotes_are_text() {
        assert_eq!(segs(r#"grep ">" 'a<b' "2>&1""#), v(&[&["grep", ">", "a<b", "2>&1"]]));
        assert_eq!(segs(r"echo \> \& \; \|"), v(&[&["echo", ">", "&", ";", "|"]]));
    }

    #[test]
    fn backslash_escapes() {
        assert_eq!(segs(r"echo a\ b"), v(&[&["echo", "a b"]]));
        assert_eq!(segs("echo a \\\nb"), v(&[&["echo", "a", "b"]]));
        assert_eq!(segs(r#"echo "a\"b\\c\d""#), v(&[&["echo", r#"a"b\c\d"#]]));
        assert_eq!(segs(r"echo 'a\'"), v(&[&["echo", r"a\"]]));
        assert_eq!(posix("echo a\\"), Err(NotAllowlistable::TrailingEscape));
    }

    #[test]
    fn redirections_are_not_allowlistable() {
        for s in ["ls > out", "ls >> out", "cat < in", "ls 2> err", "ls 2>&1", "ls &> all", "cat <<EOF", "diff <(ls) x", "ls >| f"] {
            assert_eq!(posix(s), Err(NotAllowlistable::Redirection), "{s}");
        }
    }

    #[test]
    fn substitutions_are_not_allowlistable() {
        for s in ["echo $(rm x)", "echo `rm x`", r#"echo "$(rm x)""#, "echo \"`id`\"", "echo $((1+2))"] {
            assert_eq!(posix(s), Err(NotAllowlistable::CommandSubstitution), "{s}");
        }
        // Inside single quotes nothing expands.
        assert_eq!(segs("echo '$(rm x)' '`id`'"), v(&[&["echo", "$(rm x)", "`id`"]]));
        // A plain variable stays literal text (and then fails to resolve as a binary).
        assert_eq!(segs("$CMD -x"), v(&[&["$CMD", "-x"]]));
    }

    #[test]
    fn subshells_and_unbalanced_quotes_are_not_allowlistable() {
        assert_eq!(posix("(rm x)"), Err(NotAllowlistable::Subshell));
        assert_eq!(posix("ls; { rm x; }"), Ok(v(&[&["ls"], &["{", "rm", "x"], &["}"]])));
        assert_eq!(posix("echo 'abc"), Err(NotAllowlistable::UnbalancedQuote));
        assert_eq!(posix("echo \"abc"), Err(NotAllowlistable::UnbalancedQuote));
        assert_eq!(posix("echo \"a\\\""), Err(NotAllowlistable::UnbalancedQuote));
    }

    #[test]
    fn cmd_dialect() {
        let cmd = |s| split_script(s, Dialect::Cmd);
        assert_eq!(cmd(r"dir C:\Users & del x"), Ok(v(&[&["dir", r"C:\Users"], &["del", "x"]])));
        assert_eq!(cmd(r#"echo "a & b" it's"#), Ok(v(&[&["echo", "a & b", "it's"]])));
        assert_eq!(cmd("echo %PATH%"), Err(NotAllowlistable::CmdMeta));
        assert_eq!(cmd("echo \"%PATH%\""), Err(NotAllowlistable::CmdMeta));
        assert_eq!(cmd("echo a^&b"), Err(NotAllowlistable::CmdMeta));
        assert_eq!(cmd("dir > out"), Err(NotAllowlistable::Redirection));
        assert_eq!(cmd("echo \"x"), Err(NotAllowlistable::UnbalancedQuote));
    }

    /// A POSIX word single-quoted so that nothing in it is special (`'` becomes `'\''`).
    fn single_quoted(word: &str) -> String {
        format!("'{}'", word.replace('\'', r"'\''"))
    }

    fn segments_strategy(word: &'static str) -> impl Strategy<Value = Vec<Vec<String>>> {
        prop::collection::vec(prop::collection::vec(word, 1..4), 0..4)
    }

    proptest! {
        /// Whatever the words hold, quoting them and joining them with separators gives back
        /// exactly those segments and words.
        #[test]
        fn quoted_words_split_back_into_the_same_segments(segments in segments_strategy("\\PC{0,8}"), separator in prop::sample::select(vec!["; ", " && ", " || ", " | ", "\n", " & "])) {
            let script = segments
                .iter()
                .map(|words| words.iter().map(|w| single_quoted(w)).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(separator);
            prop_assert_eq!(posix(&script), Ok(segments));
        }

        /// cmd.exe: double quotes protect everything but `"` itself and `%`.
        #[test]
        fn cmd_quoted_words_split_back_into_the_same_segments(segments in segments_strategy("[^\"%]{0,8}")) {
            let script = segments
                .iter()
                .map(|words| words.iter().map(|w| format!("\"{w}\"")).collect::<Vec<_>>().join(" "))
                .collect::<Vec<_>>()
                .join(" & ");
            prop_assert_eq!(split_script(&script, Dialect::Cmd), Ok(segments));
        }

        /// With no quoting or escaping to hide them, redirection and grouping characters always
        /// make a script not allowlistable, in both dialects; and no input panics.
        #[test]
        fn unquoted_redirections_and_groups_are_always_refused(script in "[^'\"\\\\`^%]{0,24}") {
            let dangerous = script.contains(['<', '>', '(', ')']);
            for dialect in [Dialect::Posix, Dialect::Cmd] {
                let result = split_script(&script, dialect);
                if dangerous {
                    prop_assert!(result.is_err(), "{script:?} ({dialect:?}) was split as {result:?}");
                    let error = result.unwrap_err();
                    prop_assert!(
                        matches!(error, NotAllowlistable::Redirection | NotAllowlistable::Subshell | NotAllowlistable::CommandSubstitution),
                        "{script:?} ({dialect:?}) refused as {error:?}"
                    );
                }
            }
        }
    }
}
