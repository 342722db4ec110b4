//! Field encoding inside a payload: big-endian integers, `str8` and `str16`.

use byteorder::{BigEndian, ByteOrder};

/// A field could not be read: bytes missing, a length past the end, bad UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// A cursor over a payload's fields.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `buf`, starting at its first byte.
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).ok_or(Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Bytes read so far.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Reads a `u8`.
    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.take(1)?[0])
    }

    /// Reads a big-endian `u16`.
    pub fn u16(&mut self) -> Result<u16, Truncated> {
        Ok(BigEndian::read_u16(self.take(2)?))
    }

    /// Reads a big-endian `u32`.
    pub fn u32(&mut self) -> Result<u32, Truncated> {
        Ok(BigEndian::read_u32(self.take(4)?))
    }

    /// Reads a big-endian `u64`.
    pub fn u64(&mut self) -> Result<u64, Truncated> {
        Ok(BigEndian::read_u64(self.take(8)?))
    }

    /// Reads `n` raw bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        self.take(n)
    }

    /// Reads a `str8`: a u8 length, then that many bytes of UTF-8.
    pub fn str8(&mut self) -> Result<&'a str, Truncated> {
        let n = usize::from(self.u8()?);
        std::str::from_utf8(self.take(n)?).map_err(|_| Truncated)
    }

    /// Reads a `str16`: a u16 length, then that many bytes of UTF-8.
    pub fn str16(&mut self) -> Result<&'a str, Truncated> {
        let n = usize::from(self.u16()?);
        std::str::from_utf8(self.take(n)?).map_err(|_| Truncated)
    }

    /// Succeeds only if every byte was read.
    pub fn finish(self) -> Result<(), Truncated> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err(Truncated)
        }
    }
}

/// A string does not fit its length prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldTooLong;

/// Appends a `str8`.
#[inline]
pub fn put_str8(out: &mut Vec<u8>, s: &str) -> Result<(), FieldTooLong> {
    let n = u8::try_from(s.len()).map_err(|_| FieldTooLong)?;
    out.push(n);
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends a `str16`.
#[inline]
pub fn put_str16(out: &mut Vec<u8>, s: &str) -> Result<(), FieldTooLong> {
    let n = u16::try_from(s.len()).map_err(|_| FieldTooLong)?;
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    Ok(())
}

/// Appends a big-endian `u16`.
#[inline]
pub fn put_u16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u32`.
#[inline]
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

/// Appends a big-endian `u64`.
#[inline]
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        let mut b = Vec::new();
        put_str8(&mut b, "héllo").unwrap();
        put_str16(&mut b, "x").unwrap();
        put_u64(&mut b, 42);
        put_u16(&mut b, 7);
        put_u32(&mut b, 0x0102_0304);
        let mut r = Reader::new(&b);
        assert_eq!(r.str8(), Ok("héllo"));
        assert_eq!(r.str16(), Ok("x"));
        assert_eq!(r.u64(), Ok(42));
        assert_eq!(r.u16(), Ok(7));
        assert_eq!(r.u32(), Ok(0x0102_0304));
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn rejects_short_overlong_and_bad_utf8() {
        assert_eq!(Reader::new(&[5, b'a']).str8(), Err(Truncated));
        assert_eq!(Reader::new(&[1, 0xff]).str8(), Err(Truncated));
        assert_eq!(Reader::new(&[0]).u16(), Err(Truncated));
        let mut r = Reader::new(&[1, 2]);
        r.u8().unwrap();
        assert_eq!(r.finish(), Err(Truncated));
        assert_eq!(
            put_str8(&mut Vec::new(), &"x".repeat(256)),
            Err(FieldTooLong)
        );
    }
}
