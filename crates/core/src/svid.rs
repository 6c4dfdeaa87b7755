//! X.509-SVIDs: the SPIFFE ID in a client certificate's URI SAN. The certificate was
//! verified by the TLS stack against the configured CAs before it gets here; this reads
//! just enough DER (certificate → extensions → subjectAltName) to find the URI, refusing
//! anything ambiguous: the SPIFFE X.509-SVID standard says exactly one URI SAN.

/// Why a certificate names no usable SPIFFE ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SvidError {
    #[error("the certificate is not well-formed DER")]
    Malformed,
    #[error("the certificate has no URI subject alternative name")]
    NoUri,
    #[error("the certificate has more than one URI subject alternative name")]
    SeveralUris,
    #[error("the URI subject alternative name is not a SPIFFE ID: {0}")]
    NotSpiffe(&'static str),
}

/// The SPIFFE ID (`spiffe://trust-domain/path`) in a DER certificate's URI SAN.
pub fn spiffe_id(cert: &[u8]) -> Result<&str, SvidError> {
    let mut uris = san_uris(cert)?;
    let uri = uris.next().ok_or(SvidError::NoUri)?;
    if uris.next().is_some() {
        return Err(SvidError::SeveralUris);
    }
    let uri = std::str::from_utf8(uri).map_err(|_| SvidError::NotSpiffe("not ASCII"))?;
    check_spiffe(uri)?;
    Ok(uri)
}

/// DER tags used here.
const SEQUENCE: u8 = 0x30;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
/// `[3] EXPLICIT` around the extensions in `TBSCertificate`.
const EXTENSIONS: u8 = 0xa3;
/// `uniformResourceIdentifier [6] IMPLICIT IA5String` in `GeneralName`.
const URI: u8 = 0x86;
/// 2.5.29.17, subjectAltName.
const SAN_OID: &[u8] = &[0x55, 0x1d, 0x11];

/// The URI entries of the certificate's subjectAltName extension (none if it has none).
fn san_uris(cert: &[u8]) -> Result<impl Iterator<Item = &[u8]>, SvidError> {
    let certificate = Der::new(cert).only(SEQUENCE)?;
    let tbs = Der::new(certificate).expect(SEQUENCE)?;
    let mut fields = Der::new(tbs);
    let mut extensions = None;
    while let Some((tag, content)) = fields.next()? {
        if tag == EXTENSIONS {
            extensions = Some(Der::new(content).only(SEQUENCE)?);
        }
    }
    let names = match extensions {
        Some(list) => san(list)?,
        None => None,
    };
    let mut entries = Vec::new();
    if let Some(names) = names {
        let mut reader = Der::new(Der::new(names).only(SEQUENCE)?);
        while let Some((tag, content)) = reader.next()? {
            if tag == URI {
                entries.push(content);
            }
        }
    }
    Ok(entries.into_iter())
}

/// The subjectAltName extension's value; a second one makes the certificate ambiguous.
fn san(list: &[u8]) -> Result<Option<&[u8]>, SvidError> {
    let mut extensions = Der::new(list);
    let mut found = None;
    while let Some((tag, extension)) = extensions.next()? {
        if tag != SEQUENCE {
            return Err(SvidError::Malformed);
        }
        let mut parts = Der::new(extension);
        let id = parts.expect(OID)?;
        let mut value = parts.next()?.ok_or(SvidError::Malformed)?;
        if value.0 == BOOLEAN {
            value = parts.next()?.ok_or(SvidError::Malformed)?;
        }
        if value.0 != OCTET_STRING || parts.next()?.is_some() {
            return Err(SvidError::Malformed);
        }
        if id == SAN_OID {
            if found.is_some() {
                return Err(SvidError::Malformed);
            }
            found = Some(value.1);
        }
    }
    Ok(found)
}

/// A SPIFFE ID as the standard defines it: scheme `spiffe`, a trust domain of lowercase
/// letters, digits, `.`, `-` and `_`, then a path of non-empty segments of letters,
/// digits, `.`, `-` and `_` (never `.` or `..`), no port, user, query or fragment.
fn check_spiffe(uri: &str) -> Result<(), SvidError> {
    if uri.len() > 2048 {
        return Err(SvidError::NotSpiffe("longer than 2048 bytes"));
    }
    let rest = uri
        .strip_prefix("spiffe://")
        .ok_or(SvidError::NotSpiffe("the scheme is not `spiffe`"))?;
    let (domain, path) = match rest.split_once('/') {
        Some((domain, path)) => (domain, Some(path)),
        None => (rest, None),
    };
    let domain_ok =
        |byte: u8| byte.is_ascii_lowercase() || byte.is_ascii_digit() || b".-_".contains(&byte);
    if domain.is_empty() || !domain.bytes().all(domain_ok) {
        return Err(SvidError::NotSpiffe("bad trust domain"));
    }
    let Some(path) = path else {
        return Ok(());
    };
    let segment_ok = |segment: &str| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || b".-_".contains(&byte))
    };
    if path.split('/').all(segment_ok) {
        Ok(())
    } else {
        Err(SvidError::NotSpiffe("bad path"))
    }
}

/// A reader of consecutive DER elements (single-byte tags, definite lengths).
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }

    /// The next element's tag and content, `None` at the end.
    fn next(&mut self) -> Result<Option<(u8, &'a [u8])>, SvidError> {
        let Some((&tag, after)) = self.rest.split_first() else {
            return Ok(None);
        };
        if tag & 0x1f == 0x1f {
            return Err(SvidError::Malformed);
        }
        let (length, after) = length(after)?;
        if after.len() < length {
            return Err(SvidError::Malformed);
        }
        let (content, rest) = after.split_at(length);
        self.rest = rest;
        Ok(Some((tag, content)))
    }

    /// The next element, which must carry `tag`.
    fn expect(&mut self, tag: u8) -> Result<&'a [u8], SvidError> {
        match self.next()? {
            Some((found, content)) if found == tag => Ok(content),
            _ => Err(SvidError::Malformed),
        }
    }

    /// The one element left, which must carry `tag`.
    fn only(mut self, tag: u8) -> Result<&'a [u8], SvidError> {
        let content = self.expect(tag)?;
        if self.rest.is_empty() {
            Ok(content)
        } else {
            Err(SvidError::Malformed)
        }
    }
}

/// A definite DER length (short form, or long form of up to four bytes) and what follows.
fn length(bytes: &[u8]) -> Result<(usize, &[u8]), SvidError> {
    let (&first, rest) = bytes.split_first().ok_or(SvidError::Malformed)?;
    if first < 0x80 {
        return Ok((usize::from(first), rest));
    }
    let count = usize::from(first & 0x7f);
    if count == 0 || count > 4 || rest.len() < count {
        return Err(SvidError::Malformed);
    }
    let (digits, rest) = rest.split_at(count);
    let length = digits
        .iter()
        .fold(0usize, |length, &digit| (length << 8) | usize::from(digit));
    Ok((length, rest))
}

#[cfg(test)]
mod tests;
