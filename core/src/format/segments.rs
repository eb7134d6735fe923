//! `data_<name>.npkseg`: upstream 0.7's JSON manifest of a segmented array,
//! `{"version":1,"segments":[{"file":"data_<name>_segments/seg_000000.npkd","rows":R,"bytes":B},…]}`.
//! We read it (and convert the array to a plain file before changing its length).

use crate::error::{Result, corrupt};
use crate::name;

/// The largest manifest we accept (a segment entry is ~80 bytes; this allows ~100K segments).
pub const MAX_MANIFEST_BYTES: u64 = 8 << 20;

/// One segment: a file of whole rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// The segment file, relative to the store folder.
    pub file: String,
    /// Rows in the file.
    pub rows: u64,
}

/// Parses a manifest for array `array` whose rows are `row_bytes` wide and which has
/// `physical_rows` rows. Segment paths must be `data_<array>_segments/seg_<digits>.npkd`.
pub fn decode(
    bytes: &[u8],
    array: &str,
    row_bytes: u64,
    physical_rows: u64,
) -> Result<Vec<Segment>> {
    let text = std::str::from_utf8(bytes).map_err(|_| corrupt("segment manifest is not UTF-8"))?;
    let value = json::parse(text)?;
    let top = value
        .as_object()
        .ok_or_else(|| corrupt("segment manifest is not a JSON object"))?;
    match json::get(top, "version").and_then(json::Value::as_u64) {
        Some(1) => {}
        other => {
            return Err(corrupt(format!(
                "segment manifest version {other:?} is not 1"
            )));
        }
    }
    let list = json::get(top, "segments")
        .and_then(json::Value::as_array)
        .ok_or_else(|| corrupt("segment manifest has no \"segments\" list"))?;
    let dir = name::segments_dir(array);
    let mut segments = Vec::with_capacity(list.len());
    let mut total: u64 = 0;
    for entry in list {
        let obj = entry
            .as_object()
            .ok_or_else(|| corrupt("a segment entry is not an object"))?;
        let file = json::get(obj, "file")
            .and_then(json::Value::as_str)
            .ok_or_else(|| corrupt("segment without \"file\""))?;
        let rows = json::get(obj, "rows")
            .and_then(json::Value::as_u64)
            .ok_or_else(|| corrupt("segment without \"rows\""))?;
        let bytes = json::get(obj, "bytes")
            .and_then(json::Value::as_u64)
            .ok_or_else(|| corrupt("segment without \"bytes\""))?;
        let leaf = file
            .strip_prefix(&dir)
            .and_then(|rest| rest.strip_prefix('/'));
        let valid = leaf
            .and_then(|l| l.strip_prefix("seg_"))
            .and_then(|l| l.strip_suffix(".npkd"));
        if !valid
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(corrupt(format!(
                "segment file {file:?} is not inside {dir}/"
            )));
        }
        if rows.checked_mul(row_bytes) != Some(bytes) {
            return Err(corrupt(format!(
                "segment {file:?}: {rows} rows of {row_bytes} bytes is not {bytes} bytes"
            )));
        }
        total = total
            .checked_add(rows)
            .ok_or_else(|| corrupt("segment rows overflow"))?;
        segments.push(Segment {
            file: file.to_string(),
            rows,
        });
    }
    if total != physical_rows {
        return Err(corrupt(format!(
            "segments hold {total} rows but the array has {physical_rows}"
        )));
    }
    Ok(segments)
}

/// Encodes a manifest the way upstream does (used by tests that build upstream stores).
pub fn encode(segments: &[Segment], row_bytes: u64) -> String {
    let entries: Vec<String> = segments
        .iter()
        .map(|s| {
            format!(
                "    {{\n      \"file\": \"{}\",\n      \"rows\": {},\n      \"bytes\": {}\n    }}",
                s.file,
                s.rows,
                s.rows * row_bytes
            )
        })
        .collect();
    format!(
        "{{\n  \"version\": 1,\n  \"segments\": [\n{}\n  ]\n}}",
        entries.join(",\n")
    )
}

/// A small, strict JSON reader: bounded nesting, no panics, numbers as non-negative integers.
mod json {
    use crate::error::{Result, corrupt};

    const MAX_DEPTH: usize = 16;

    pub enum Value {
        Null,
        Bool(#[allow(dead_code)] bool),
        Number(Option<u64>),
        Str(String),
        Array(Vec<Value>),
        Object(Vec<(String, Value)>),
    }

    impl Value {
        pub fn as_u64(&self) -> Option<u64> {
            if let Value::Number(n) = self {
                *n
            } else {
                None
            }
        }
        pub fn as_str(&self) -> Option<&str> {
            if let Value::Str(s) = self {
                Some(s)
            } else {
                None
            }
        }
        pub fn as_array(&self) -> Option<&[Value]> {
            if let Value::Array(a) = self {
                Some(a)
            } else {
                None
            }
        }
        pub fn as_object(&self) -> Option<&[(String, Value)]> {
            if let Value::Object(o) = self {
                Some(o)
            } else {
                None
            }
        }
    }

    pub fn get<'a>(obj: &'a [(String, Value)], key: &str) -> Option<&'a Value> {
        obj.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn parse(text: &str) -> Result<Value> {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value(0)?;
        p.ws();
        if p.i != p.s.len() {
            return Err(corrupt("segment manifest has trailing characters"));
        }
        Ok(v)
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn ws(&mut self) {
            while self.s.get(self.i).is_some_and(|c| c.is_ascii_whitespace()) {
                self.i += 1;
            }
        }

        fn peek(&mut self) -> Option<u8> {
            self.ws();
            self.s.get(self.i).copied()
        }

        fn expect(&mut self, c: u8) -> Result<()> {
            if self.peek() == Some(c) {
                self.i += 1;
                Ok(())
            } else {
                Err(corrupt(format!(
                    "segment manifest: expected '{}' at byte {}",
                    c as char, self.i
                )))
            }
        }

        fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
            if self.s.get(self.i..self.i + word.len()) == Some(word.as_bytes()) {
                self.i += word.len();
                Ok(v)
            } else {
                Err(corrupt(format!(
                    "segment manifest: bad token at byte {}",
                    self.i
                )))
            }
        }

        fn value(&mut self, depth: usize) -> Result<Value> {
            if depth > MAX_DEPTH {
                return Err(corrupt("segment manifest nests too deeply"));
            }
            match self.peek() {
                Some(b'{') => {
                    self.i += 1;
                    let mut fields = Vec::new();
                    if self.peek() == Some(b'}') {
                        self.i += 1;
                        return Ok(Value::Object(fields));
                    }
                    loop {
                        let key = self.string()?;
                        self.expect(b':')?;
                        fields.push((key, self.value(depth + 1)?));
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b'}') => {
                                self.i += 1;
                                return Ok(Value::Object(fields));
                            }
                            _ => return Err(corrupt("segment manifest: unterminated object")),
                        }
                    }
                }
                Some(b'[') => {
                    self.i += 1;
                    let mut items = Vec::new();
                    if self.peek() == Some(b']') {
                        self.i += 1;
                        return Ok(Value::Array(items));
                    }
                    loop {
                        items.push(self.value(depth + 1)?);
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b']') => {
                                self.i += 1;
                                return Ok(Value::Array(items));
                            }
                            _ => return Err(corrupt("segment manifest: unterminated list")),
                        }
                    }
                }
                Some(b'"') => Ok(Value::Str(self.string()?)),
                Some(b't') => self.literal("true", Value::Bool(true)),
                Some(b'f') => self.literal("false", Value::Bool(false)),
                Some(b'n') => self.literal("null", Value::Null),
                Some(c) if c == b'-' || c.is_ascii_digit() => self.number(),
                _ => Err(corrupt(format!(
                    "segment manifest: unexpected input at byte {}",
                    self.i
                ))),
            }
        }

        fn number(&mut self) -> Result<Value> {
            let start = self.i;
            while self
                .s
                .get(self.i)
                .is_some_and(|c| c.is_ascii_digit() || b"+-.eE".contains(c))
            {
                self.i += 1;
            }
            let text = std::str::from_utf8(&self.s[start..self.i]).unwrap_or("");
            if text.is_empty() {
                return Err(corrupt("segment manifest: empty number"));
            }
            Ok(Value::Number(text.parse::<u64>().ok()))
        }

        fn string(&mut self) -> Result<String> {
            self.expect(b'"')?;
            let mut out = Vec::new();
            loop {
                let c = *self
                    .s
                    .get(self.i)
                    .ok_or_else(|| corrupt("segment manifest: unterminated string"))?;
                self.i += 1;
                match c {
                    b'"' => break,
                    b'\\' => {
                        let e = *self
                            .s
                            .get(self.i)
                            .ok_or_else(|| corrupt("segment manifest: bad escape"))?;
                        self.i += 1;
                        match e {
                            b'"' | b'\\' | b'/' => out.push(e),
                            b'n' => out.push(b'\n'),
                            b't' => out.push(b'\t'),
                            b'r' => out.push(b'\r'),
                            b'b' => out.push(8),
                            b'f' => out.push(12),
                            b'u' => {
                                let hex = self
                                    .s
                                    .get(self.i..self.i + 4)
                                    .ok_or_else(|| corrupt("segment manifest: bad \\u"))?;
                                self.i += 4;
                                let code = std::str::from_utf8(hex)
                                    .ok()
                                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                                let ch = code.and_then(char::from_u32).unwrap_or('\u{fffd}');
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            _ => return Err(corrupt("segment manifest: bad escape")),
                        }
                    }
                    _ => out.push(c),
                }
            }
            String::from_utf8(out).map_err(|_| corrupt("segment manifest: string is not UTF-8"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_hostile_paths() {
        let segs = vec![
            Segment {
                file: "data_v_segments/seg_000000.npkd".into(),
                rows: 3,
            },
            Segment {
                file: "data_v_segments/seg_000001.npkd".into(),
                rows: 2,
            },
        ];
        let text = encode(&segs, 8);
        assert_eq!(decode(text.as_bytes(), "v", 8, 5).unwrap(), segs);
        assert!(decode(text.as_bytes(), "v", 8, 6).is_err());
        assert!(decode(text.as_bytes(), "v", 4, 5).is_err());
        let evil = text.replace(
            "data_v_segments/seg_000001",
            "data_v_segments/../../etc/passwd",
        );
        assert!(decode(evil.as_bytes(), "v", 8, 5).is_err());
        for bad in [
            "",
            "{",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
            "{\"version\":2,\"segments\":[]}",
            "{\"version\":1}",
        ] {
            assert!(decode(bad.as_bytes(), "v", 8, 0).is_err(), "{bad}");
        }
        assert!(
            decode(b"{\"version\":1,\"segments\":[]}", "v", 8, 0)
                .unwrap()
                .is_empty()
        );
    }
}
