//! How a capability declares the problems it can send: [`problems!`] writes each variant's
//! stable code, HTTP status and Chinese title together, and every declaration converts into a
//! [`ProblemKind`], the value an `AppError` carries. Its own file so that the HTTP layer's own
//! declarations (`errors.rs`) and the error type (`problem.rs`) both stand on it.

use poem::http::StatusCode;

/// Declares the problems one capability can send: an enum whose every variant carries its
/// stable machine `code`, its HTTP status and its Chinese title, written together, so that no
/// code can be sent without a title. See `crate::cases::errors` for a use.
///
/// ```ignore
/// problems! {
///     /// Every problem the cases capability can send.
///     pub enum CaseProblem {
///         CaseNotFound = ("case_not_found", NOT_FOUND, "办件不存在"),
///     }
/// }
/// ```
macro_rules! problems {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = ($code:literal, $status:ident, $title:literal), )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// Every problem declared here.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stable machine code sent as `code`.
            pub const fn code(self) -> &'static str {
                match self {
                    $($name::$variant => $code,)+
                }
            }

            /// The HTTP status it is sent with.
            pub const fn status(self) -> ::poem::http::StatusCode {
                match self {
                    $($name::$variant => ::poem::http::StatusCode::$status,)+
                }
            }

            /// The short Chinese title sent as `title`.
            pub const fn title(self) -> &'static str {
                match self {
                    $($name::$variant => $title,)+
                }
            }
        }

        impl From<$name> for $crate::http::declare::ProblemKind {
            fn from(kind: $name) -> Self {
                $crate::http::declare::ProblemKind::declared(
                    stringify!($name),
                    kind.code(),
                    kind.status(),
                    kind.title(),
                )
            }
        }
    };
}
pub(crate) use problems;

/// A declared problem of some capability: its code, status and title. An `AppError` holds one,
/// and the only way to make one is from a capability's `problems!` declaration (each converts
/// into it), so a problem cannot be sent without its title. The capabilities depend on this
/// module, never this module on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProblemKind {
    declared_in: &'static str,
    code: &'static str,
    status: StatusCode,
    title: &'static str,
}

impl ProblemKind {
    /// For `problems!` only: a variant of the enum `declared_in`.
    #[doc(hidden)]
    pub const fn declared(
        declared_in: &'static str,
        code: &'static str,
        status: StatusCode,
        title: &'static str,
    ) -> Self {
        ProblemKind {
            declared_in,
            code,
            status,
            title,
        }
    }

    /// The declaring enum (`CaseProblem`, `HttpProblem`…).
    pub const fn declared_in(self) -> &'static str {
        self.declared_in
    }

    pub const fn code(self) -> &'static str {
        self.code
    }

    pub const fn status(self) -> StatusCode {
        self.status
    }

    pub const fn title(self) -> &'static str {
        self.title
    }
}
