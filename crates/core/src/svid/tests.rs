//! SPIFFE IDs read from real certificates (made with `openssl req -x509 -addext
//! subjectAltName=…`) and from broken DER.

use base64::Engine;
use proptest::prelude::*;

use super::*;

const ONE: &str = "MIIBYzCCARWgAwIBAgIUS/bTrHvpuV68Xdr1UD2nJAvggtEwBQYDK2VwMA4xDDAKBgNVBAMMA29uZTAeFw0yNjEyMDQyMDM2NDVaFw0zNjEyMDEyMDM2NDVaMA4xDDAKBgNVBAMMA29uZTAqMAUGAytlcAMhADUGcXtvK5zE3XrFxhudD1RMEDMu6rEDvxTSZir4yDGto4GEMIGBMB0GA1UdDgQWBBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAfBgNVHSMEGDAWgBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAPBgNVHRMBAf8EBTADAQH/MC4GA1UdEQQnMCWGI3NwaWZmZTovL2V4YW1wbGUub3JnL2FnZW50L3JlcG9ydGVyMAUGAytlcANBADOpWPT1sJMqG5zJK15ZXw6vpZDlKwsPM+XeYsHJwq71MuLaUiac4LoXLy+zUpMhYvDJD2urSwC37kNom9islww=";
const TWO: &str = "MIIBbjCCASCgAwIBAgIUVNTl0aa6OZYUzZq1Tacr+aiyUO4wBQYDK2VwMA4xDDAKBgNVBAMMA3R3bzAeFw0yNjEyMDQyMDM2NDVaFw0zNjEyMDEyMDM2NDVaMA4xDDAKBgNVBAMMA3R3bzAqMAUGAytlcAMhADUGcXtvK5zE3XrFxhudD1RMEDMu6rEDvxTSZir4yDGto4GPMIGMMB0GA1UdDgQWBBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAfBgNVHSMEGDAWgBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAPBgNVHRMBAf8EBTADAQH/MDkGA1UdEQQyMDCGFnNwaWZmZTovL2V4YW1wbGUub3JnL2GGFnNwaWZmZTovL2V4YW1wbGUub3JnL2IwBQYDK2VwA0EAhw51w0JcCmMjme2bGwGjjCkn55CViocOudcCgMWB6AtVZnI1/2IZBjmalB/flA1yllGFL+m+itoyLEfYHpyxCQ==";
const DNS: &str = "MIIBTzCCAQGgAwIBAgIUTxDEpfqcGDC9cljDiv+2HoqVaewwBQYDK2VwMA4xDDAKBgNVBAMMA2RuczAeFw0yNjEyMDQyMDM2NDVaFw0zNjEyMDEyMDM2NDVaMA4xDDAKBgNVBAMMA2RuczAqMAUGAytlcAMhADUGcXtvK5zE3XrFxhudD1RMEDMu6rEDvxTSZir4yDGto3EwbzAdBgNVHQ4EFgQU3Gez7t691+55vslqNz8UO3etkCgwHwYDVR0jBBgwFoAU3Gez7t691+55vslqNz8UO3etkCgwDwYDVR0TAQH/BAUwAwEB/zAcBgNVHREEFTATghFhZ2VudC5leGFtcGxlLm9yZzAFBgMrZXADQQBLZc6sAr/HBw1ReqX1Rx7lyoM/tOL0rB2I1slqyjWEMlejy5nCaCa4E2XIXlXl/syMXlb0+Gwh6IaOXpoUOR0L";
const HTTP: &str = "MIIBVTCCAQegAwIBAgIUBuKGsycSWSwD+Fk0L8IgUsFkpTMwBQYDK2VwMA8xDTALBgNVBAMMBGh0dHAwHhcNMjYxMjA0MjAzNjQ1WhcNMzYxMjAxMjAzNjQ1WjAPMQ0wCwYDVQQDDARodHRwMCowBQYDK2VwAyEANQZxe28rnMTdesXGG50PVEwQMy7qsQO/FNJmKvjIMa2jdTBzMB0GA1UdDgQWBBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAfBgNVHSMEGDAWgBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAPBgNVHRMBAf8EBTADAQH/MCAGA1UdEQQZMBeGFWh0dHBzOi8vZXhhbXBsZS5vcmcvYTAFBgMrZXADQQA5y23D3//s7C8gwwuuyBfiXGIhEY5DeT8+Jac3uGMdSDyTgHO3QLcppH4MeTH0jGFtx9ZwvNWj6JuHkhs4gukH";
const DOTS: &str = "MIIBWzCCAQ2gAwIBAgIUKmxjdn7vFKWEMWKtLtUhARVie3owBQYDK2VwMA8xDTALBgNVBAMMBGRvdHMwHhcNMjYxMjA0MjAzNjQ1WhcNMzYxMjAxMjAzNjQ1WjAPMQ0wCwYDVQQDDARkb3RzMCowBQYDK2VwAyEANQZxe28rnMTdesXGG50PVEwQMy7qsQO/FNJmKvjIMa2jezB5MB0GA1UdDgQWBBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAfBgNVHSMEGDAWgBTcZ7Pu3r3X7nm+yWo3PxQ7d62QKDAPBgNVHRMBAf8EBTADAQH/MCYGA1UdEQQfMB2GG3NwaWZmZTovL2V4YW1wbGUub3JnL2EvLi4vYjAFBgMrZXADQQDjTGlNycv6KOyx8p2GbkxVGVJ/M07I3YdgYp0o6fEKd8vOLWHQslcPSOGB3SGfTk+9eywFHJGjUNMpS2IZA5QI";
const NONE: &str = "MIIBMjCB5aADAgECAhQFoCSzzeV3QUPs88bSk5Ff4B/kLTAFBgMrZXAwDzENMAsGA1UEAwwEbm9uZTAeFw0yNjEyMDQyMDM3MDBaFw0zNjEyMDEyMDM3MDBaMA8xDTALBgNVBAMMBG5vbmUwKjAFBgMrZXADIQA1BnF7byucxN16xcYbnQ9UTBAzLuqxA78U0mYq+MgxraNTMFEwHQYDVR0OBBYEFNxns+7evdfueb7Jajc/FDt3rZAoMB8GA1UdIwQYMBaAFNxns+7evdfueb7Jajc/FDt3rZAoMA8GA1UdEwEB/wQFMAMBAf8wBQYDK2VwA0EAeCpuUl+EG6G5LqkSN7oDvcLOQa5gloxKX5ccgyg9a1fvGDCOFESUWDSHNwNH1BtwqPGfxgzhGaAoRRyAp+7zAw==";

fn der(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

#[test]
fn the_uri_san_of_an_svid_is_its_spiffe_id() {
    assert_eq!(
        spiffe_id(&der(ONE)),
        Ok("spiffe://example.org/agent/reporter")
    );
}

#[test]
fn certificates_without_exactly_one_spiffe_uri_name_nobody() {
    assert_eq!(spiffe_id(&der(TWO)), Err(SvidError::SeveralUris));
    assert_eq!(spiffe_id(&der(DNS)), Err(SvidError::NoUri));
    assert_eq!(spiffe_id(&der(NONE)), Err(SvidError::NoUri));
    assert!(matches!(
        spiffe_id(&der(HTTP)),
        Err(SvidError::NotSpiffe(_))
    ));
    assert!(matches!(
        spiffe_id(&der(DOTS)),
        Err(SvidError::NotSpiffe(_))
    ));
}

#[test]
fn spiffe_ids_follow_the_standard() {
    for good in [
        "spiffe://example.org",
        "spiffe://a-b_c.d/x/y.z",
        "spiffe://td/A_1",
    ] {
        assert_eq!(check_spiffe(good), Ok(()), "{good}");
    }
    for bad in [
        "spiffe://",
        "spiffe://Example.org/a",
        "spiffe://td/",
        "spiffe://td//a",
        "spiffe://td/a?b",
        "spiffe://td/a#b",
        "spiffe://td:8080/a",
        "spiffe://u@td/a",
        "spiffe://td/%41",
        "SPIFFE://td/a",
        "spiffe://td/./a",
    ] {
        assert!(check_spiffe(bad).is_err(), "{bad}");
    }
}

#[test]
fn truncated_or_padded_der_is_malformed() {
    let cert = der(ONE);
    for cut in [0, 1, 2, 10, cert.len() / 2, cert.len() - 1] {
        assert!(spiffe_id(&cert[..cut]).is_err(), "cut at {cut}");
    }
    let mut padded = cert.clone();
    padded.push(0);
    assert_eq!(spiffe_id(&padded), Err(SvidError::Malformed));
}

proptest! {
    #[test]
    fn any_bytes_are_answered_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = spiffe_id(&bytes);
    }

    #[test]
    fn any_corruption_of_a_real_svid_is_answered(at in 0usize..480, byte in any::<u8>()) {
        let mut cert = der(ONE);
        let at = at % cert.len();
        cert[at] = byte;
        if let Ok(id) = spiffe_id(&cert) {
            prop_assert!(id.starts_with("spiffe://"));
        }
    }
}
