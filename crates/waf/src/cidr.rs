//! CIDR blocks as AWS WAF takes them: an IPv4 or IPv6 network address and a prefix length.
//!
//! This is the project's one CIDR parser. It is as strict as AWS WAF's IP sets are: no host bits
//! set, no `/0`, and no IPv4-mapped IPv6 networks (WAF matches IPv4 clients by their IPv4
//! address, so such an entry would never match). Rejecting here means a CIDR that works locally
//! also works in AWS.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The IP version of an address or CIDR. An AWS WAF IP set holds one version only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum IpVersion {
    /// Written `IPV4` in files, as AWS WAF's `IPAddressVersion` does.
    #[serde(rename = "IPV4")]
    V4,
    /// Written `IPV6` in files.
    #[serde(rename = "IPV6")]
    V6,
}

impl IpVersion {
    /// Both versions, IPv4 first (the order sets are listed in).
    pub const ALL: [IpVersion; 2] = [IpVersion::V4, IpVersion::V6];

    /// The version of `ip`, reading an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as IPv4, as
    /// [`Cidr::contains`] does.
    pub fn of(ip: IpAddr) -> IpVersion {
        match ip.to_canonical() {
            IpAddr::V4(_) => IpVersion::V4,
            IpAddr::V6(_) => IpVersion::V6,
        }
    }

    /// The longest prefix of this version: 32 or 128.
    pub fn max_prefix_len(self) -> u8 {
        match self {
            IpVersion::V4 => 32,
            IpVersion::V6 => 128,
        }
    }

    /// AWS WAF's name for it (`IPAddressVersion`): `IPV4` or `IPV6`.
    pub fn aws_name(self) -> &'static str {
        match self {
            IpVersion::V4 => "IPV4",
            IpVersion::V6 => "IPV6",
        }
    }
}

impl fmt::Display for IpVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpVersion::V4 => "IPv4",
            IpVersion::V6 => "IPv6",
        })
    }
}

/// An IPv4 or IPv6 network: `203.0.113.0/24`, `2001:db8::/32`; a single address is a `/32` or
/// `/128`. Always a valid AWS WAF IP set entry (see the module docs).
///
/// Parse with [`str::parse`]; `Display` writes it as AWS does (`1.2.3.4/32`, always with the
/// prefix length). Ordered IPv4 first, then by address and prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// The network `network/prefix_len`, checked like a parsed one.
    pub fn new(network: IpAddr, prefix_len: u8) -> Result<Cidr, CidrError> {
        Cidr::checked(network, prefix_len, || format!("{network}/{prefix_len}"))
    }

    /// The single address `ip` (`/32` or `/128`). An IPv4-mapped IPv6 address becomes its IPv4
    /// address, so `Cidr::host(peer)` is what to allow for a peer the gateway blocked.
    pub fn host(ip: IpAddr) -> Cidr {
        let network = ip.to_canonical();
        Cidr {
            network,
            prefix_len: IpVersion::of(network).max_prefix_len(),
        }
    }

    /// The network address (host bits are always zero).
    pub fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length: 1 to 32 for IPv4, 1 to 128 for IPv6.
    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    pub fn version(&self) -> IpVersion {
        written_version(self.network)
    }

    /// Whether `ip` is in this network. An IPv4-mapped IPv6 address (`::ffff:127.0.0.2`, what a
    /// dual-stack socket reports for an IPv4 peer) counts as its IPv4 address; an IPv4 network
    /// never contains a real IPv6 address, nor the other way round.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                u32::from(ip) & v4_mask(self.prefix_len) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                u128::from(ip) & v6_mask(self.prefix_len) == u128::from(network)
            }
            _ => false,
        }
    }

    /// `input` renders the CIDR as the user wrote it, for error messages; built only on error.
    fn checked(
        network: IpAddr,
        prefix_len: u8,
        input: impl Fn() -> String,
    ) -> Result<Cidr, CidrError> {
        let version = written_version(network);
        if let IpAddr::V6(v6) = network
            && let Some(v4) = v6.to_ipv4_mapped()
            && prefix_len >= 96
        {
            // Suggest the IPv4 form; if that is itself invalid (/0, host bits), its error says so.
            let v4_prefix = prefix_len - 96;
            let suggestion = match Cidr::new(IpAddr::V4(v4), v4_prefix) {
                Ok(cidr) => cidr.to_string(),
                Err(_) => format!("{v4}/{v4_prefix}"),
            };
            return Err(CidrError::Ipv4Mapped {
                input: input(),
                suggestion,
            });
        }
        let max = version.max_prefix_len();
        if prefix_len > max {
            return Err(CidrError::BadPrefix {
                input: input(),
                version,
                max,
            });
        }
        if prefix_len == 0 {
            return Err(CidrError::ZeroPrefix { input: input() });
        }
        let masked = match network {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & v4_mask(prefix_len))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & v6_mask(prefix_len))),
        };
        if masked != network {
            return Err(CidrError::HostBitsSet {
                input: input(),
                network: Cidr {
                    network: masked,
                    prefix_len,
                },
                host: Cidr::host(network),
            });
        }
        Ok(Cidr {
            network,
            prefix_len,
        })
    }
}

/// The version `ip` is written in; unlike [`IpVersion::of`], `::ffff:1.2.3.4` is IPv6 here, as its
/// prefix length counts to 128.
fn written_version(ip: IpAddr) -> IpVersion {
    match ip {
        IpAddr::V4(_) => IpVersion::V4,
        IpAddr::V6(_) => IpVersion::V6,
    }
}

fn v4_mask(prefix_len: u8) -> u32 {
    // checked_shl: a shift by the full width (prefix 0) is not allowed, and means "no bits".
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

fn v6_mask(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    /// Accepts `1.2.3.4` (a `/32`), `1.2.3.0/24`, `::1` (a `/128`) and `2001:db8::/32`;
    /// surrounding whitespace is ignored.
    fn from_str(input: &str) -> Result<Cidr, CidrError> {
        let text = input.trim();
        if text.is_empty() {
            return Err(CidrError::Empty);
        }
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let network: IpAddr = address.parse().map_err(|_| CidrError::BadAddress {
            input: text.to_owned(),
        })?;
        let version = written_version(network);
        let prefix_len = match prefix {
            None => version.max_prefix_len(),
            // Digits only: u8's parser would also take `+24`, which AWS does not.
            Some(digits)
                if (1..=3).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit()) =>
            {
                // At most 999, which `checked` refuses as too long.
                digits
                    .parse::<u16>()
                    .map_or(u8::MAX, |n| u8::try_from(n).unwrap_or(u8::MAX))
            }
            Some(_) => {
                return Err(CidrError::BadPrefix {
                    input: text.to_owned(),
                    version,
                    max: version.max_prefix_len(),
                });
            }
        };
        Cidr::checked(network, prefix_len, || text.to_owned())
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl Serialize for Cidr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Cidr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Cidr, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a CIDR was refused. Each message quotes the input and says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("empty CIDR: write an address such as 203.0.113.7 or a range such as 203.0.113.0/24")]
    Empty,
    #[error(
        "`{input}` is not an IP address: write an IPv4 address such as 203.0.113.7 or an IPv6 \
         address such as 2001:db8::7, optionally followed by /<prefix length>"
    )]
    BadAddress { input: String },
    #[error(
        "`{input}` has a bad prefix length: for {version} it is a whole number from 1 to {max} \
         (no prefix means a single address)"
    )]
    BadPrefix {
        input: String,
        version: IpVersion,
        max: u8,
    },
    #[error(
        "`{input}` is a /0 range, which AWS WAF does not accept in an IP set: allow the narrower \
         ranges your clients use"
    )]
    ZeroPrefix { input: String },
    #[error(
        "`{input}` has host bits set, which AWS WAF does not accept: write {network} for the whole \
         range, or {host} for that one address"
    )]
    HostBitsSet {
        input: String,
        network: Cidr,
        host: Cidr,
    },
    #[error(
        "`{input}` is an IPv4-mapped IPv6 address, which AWS WAF never matches (IPv4 clients are \
         matched by their IPv4 address): write {suggestion}"
    )]
    Ipv4Mapped { input: String, suggestion: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cidr(text: &str) -> Cidr {
        text.parse()
            .unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn error(text: &str) -> String {
        match text.parse::<Cidr>() {
            Ok(cidr) => panic!("{text:?} parsed as {cidr}"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn parses_addresses_and_ranges_and_writes_them_as_aws_does() {
        for (input, shown) in [
            ("1.2.3.4", "1.2.3.4/32"),
            ("1.2.3.4/32", "1.2.3.4/32"),
            ("1.2.3.0/24", "1.2.3.0/24"),
            ("10.0.0.0/8", "10.0.0.0/8"),
            ("128.0.0.0/1", "128.0.0.0/1"),
            (" 127.0.0.2 ", "127.0.0.2/32"),
            ("::1", "::1/128"),
            ("2001:db8::/32", "2001:db8::/32"),
            ("2001:DB8:0:0::/64", "2001:db8::/64"),
            ("fe80::1/128", "fe80::1/128"),
            ("1.2.3.0/024", "1.2.3.0/24"),
        ] {
            assert_eq!(cidr(input).to_string(), shown, "{input}");
        }
        let range = cidr("2001:db8::/32");
        assert_eq!(range.network(), ip("2001:db8::"));
        assert_eq!(range.prefix_len(), 32);
    }

    #[test]
    fn knows_its_version() {
        assert_eq!(cidr("1.2.3.4").version(), IpVersion::V4);
        assert_eq!(cidr("::1").version(), IpVersion::V6);
        assert_eq!(IpVersion::of(ip("::ffff:1.2.3.4")), IpVersion::V4);
        assert_eq!(IpVersion::V4.to_string(), "IPv4");
        assert_eq!(IpVersion::V6.aws_name(), "IPV6");
    }

    #[test]
    fn contains_the_addresses_of_its_range_only() {
        let range = cidr("10.1.0.0/16");
        assert!(range.contains(ip("10.1.0.0")));
        assert!(range.contains(ip("10.1.255.255")));
        assert!(!range.contains(ip("10.2.0.0")));
        assert!(!range.contains(ip("10.0.255.255")));
        let host = cidr("127.0.0.2");
        assert!(host.contains(ip("127.0.0.2")));
        assert!(!host.contains(ip("127.0.0.1")));
        assert!(cidr("0.0.0.0/1").contains(ip("127.255.255.255")));
        assert!(!cidr("0.0.0.0/1").contains(ip("128.0.0.0")));

        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(cidr("::1").contains(ip("::1")));
        assert!(!cidr("::1").contains(ip("127.0.0.1")));
        assert!(!cidr("127.0.0.1").contains(ip("::1")));
    }

    #[test]
    fn an_ipv4_mapped_peer_counts_as_its_ipv4_address() {
        assert!(cidr("127.0.0.2").contains(ip("::ffff:127.0.0.2")));
        assert!(cidr("127.0.0.0/8").contains(ip("::ffff:127.9.9.9")));
        assert!(!cidr("127.0.0.2").contains(ip("::ffff:127.0.0.3")));
        // An IPv6 range never matches an IPv4 client, mapped or not, as in AWS WAF.
        assert!(!cidr("::/1").contains(ip("::ffff:127.0.0.2")));
        assert_eq!(Cidr::host(ip("::ffff:127.0.0.2")), cidr("127.0.0.2"));
        assert_eq!(Cidr::host(ip("2001:db8::7")), cidr("2001:db8::7/128"));
    }

    #[test]
    fn refuses_host_bits_and_suggests_the_network() {
        assert_eq!(
            error("10.0.0.1/24"),
            "`10.0.0.1/24` has host bits set, which AWS WAF does not accept: write 10.0.0.0/24 \
             for the whole range, or 10.0.0.1/32 for that one address"
        );
        assert!(error("2001:db8::1/32").contains("write 2001:db8::/32 for the whole range"));
        assert_eq!(
            Cidr::new(ip("192.168.1.1"), 16),
            Err(CidrError::HostBitsSet {
                input: "192.168.1.1/16".into(),
                network: cidr("192.168.0.0/16"),
                host: cidr("192.168.1.1"),
            })
        );
    }

    #[test]
    fn refuses_bad_addresses_clearly() {
        for input in [
            "300.1.1.1",
            "abc",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "fe80::1%eth0",
            "/24",
        ] {
            let message = error(input);
            assert!(
                message.starts_with(&format!("`{input}` is not an IP address: write")),
                "{input}: {message}"
            );
        }
        assert_eq!(
            error(""),
            "empty CIDR: write an address such as 203.0.113.7 or a range such as 203.0.113.0/24"
        );
        assert_eq!(error("  "), error(""));
    }

    #[test]
    fn refuses_bad_prefix_lengths_clearly() {
        assert_eq!(
            error("1.2.3.4/33"),
            "`1.2.3.4/33` has a bad prefix length: for IPv4 it is a whole number from 1 to 32 \
             (no prefix means a single address)"
        );
        assert!(error("::1/129").contains("for IPv6 it is a whole number from 1 to 128"));
        for input in [
            "1.2.3.4/",
            "1.2.3.4/x",
            "1.2.3.4/+24",
            "1.2.3.4/-1",
            "1.2.3.4/1000",
            "1.2.3.4/24/8",
        ] {
            assert!(error(input).contains("has a bad prefix length"), "{input}");
        }
        assert!(error("0.0.0.0/0").contains("/0 range, which AWS WAF does not accept"));
        assert!(error("::/0").contains("/0 range"));
    }

    #[test]
    fn refuses_ipv4_mapped_networks() {
        assert_eq!(
            error("::ffff:1.2.3.4"),
            "`::ffff:1.2.3.4` is an IPv4-mapped IPv6 address, which AWS WAF never matches (IPv4 \
             clients are matched by their IPv4 address): write 1.2.3.4/32"
        );
        assert!(error("::ffff:10.0.0.0/104").ends_with("write 10.0.0.0/8"));
        // A wider IPv6 range that merely includes the mapped block is an ordinary IPv6 range.
        assert_eq!(cidr("::/8").to_string(), "::/8");
    }

    #[test]
    fn round_trips_through_json_as_a_string() {
        let value = cidr("10.0.0.0/8");
        let json = serde_json::to_string(&value).unwrap();
        assert_eq!(json, r#""10.0.0.0/8""#);
        assert_eq!(serde_json::from_str::<Cidr>(&json).unwrap(), value);
        let bad = serde_json::from_str::<Cidr>(r#""10.0.0.1/8""#).unwrap_err();
        assert!(bad.to_string().contains("has host bits set"), "{bad}");
    }

    #[test]
    fn orders_ipv4_first() {
        let mut list = vec![cidr("::1"), cidr("10.0.0.0/8"), cidr("1.2.3.4")];
        list.sort();
        assert_eq!(list, [cidr("1.2.3.4"), cidr("10.0.0.0/8"), cidr("::1")]);
    }
}
