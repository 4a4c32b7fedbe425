//! Looking for credentials in what a program wrote: every form in which one could leak.

/// The credentials a test puts in a program's environment.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key: &'a str,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_key: &'a str,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: &'a str,
    /// `OPENSEARCH_USERNAME`.
    pub username: &'a str,
    /// `OPENSEARCH_PASSWORD`.
    pub password: &'a str,
}

impl Credentials<'_> {
    /// Every form in which a secret could leak: each as it is, the secret key and the session
    /// token percent-encoded, and the base64 of `user:password` as basic auth sends it.
    pub fn forms(&self) -> Vec<String> {
        let mut all = vec![
            self.access_key.to_owned(),
            self.secret_key.to_owned(),
            self.session_token.to_owned(),
            self.password.to_owned(),
            base64(format!("{}:{}", self.username, self.password).as_bytes()),
        ];
        for s in [self.secret_key, self.session_token] {
            all.push(
                s.replace('/', "%2F")
                    .replace('+', "%2B")
                    .replace('=', "%3D"),
            );
        }
        all
    }

    /// Panics, naming `what`, if `text` holds any of [`forms`](Credentials::forms).
    pub fn assert_absent(&self, what: &str, text: &str) {
        for secret in self.forms() {
            assert!(
                !text.contains(&secret),
                "{what} contains the secret {secret:?}:\n{text}"
            );
        }
    }
}

/// Standard base64 with padding (RFC 4648), as HTTP basic auth uses it.
pub fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_the_rfc_7617_example() {
        assert_eq!(
            base64(b"Aladdin:open sesame"),
            "QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
        assert_eq!(base64(b"ab"), "YWI=");
    }

    #[test]
    fn forms_include_the_basic_auth_header_value_and_percent_encodings() {
        let c = Credentials {
            access_key: "AK",
            secret_key: "a/b+c=",
            session_token: "t",
            username: "Aladdin",
            password: "open sesame",
        };
        let forms = c.forms();
        assert!(forms.contains(&"QWxhZGRpbjpvcGVuIHNlc2FtZQ==".to_string()));
        assert!(forms.contains(&"a%2Fb%2Bc%3D".to_string()));
    }
}
