//! Closed sets of names written as text (event kinds, refusal kinds): one macro gives each
//! its enum, its list, its text form both ways and the error for a text that names none,
//! so the sets cannot drift apart in how they read and write.

/// `closed_set! { /// doc  pub enum Name, error UnknownName, "noun"; Variant => "text", … }`
macro_rules! closed_set {
    (
        $(#[$enum_doc:meta])*
        pub enum $name:ident, error $error:ident, $noun:literal;
        $($(#[$doc:meta])* $variant:ident => $text:literal,)*
    ) => {
        $(#[$enum_doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            ::serde::Serialize, ::serde::Deserialize,
        )]
        pub enum $name {
            $($(#[$doc])* #[serde(rename = $text)] $variant,)*
        }

        impl $name {
            /// Every member, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)*];

            /// The stable text form, as events, queries and the CLI write it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        #[doc = concat!("A text that names no ", $noun, ".")]
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $error(pub String);

        impl ::std::fmt::Display for $error {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                write!(f, concat!("unknown ", $noun, " `{}` (known: "), self.0)?;
                for (index, member) in $name::ALL.iter().enumerate() {
                    if index > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(member.as_str())?;
                }
                f.write_str(")")
            }
        }

        impl ::std::error::Error for $error {}

        impl ::std::str::FromStr for $name {
            type Err = $error;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .iter()
                    .copied()
                    .find(|member| member.as_str() == text)
                    .ok_or_else(|| $error(text.to_owned()))
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use closed_set;
