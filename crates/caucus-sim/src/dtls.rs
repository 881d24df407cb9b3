//! str0m's crypto with a DTLS whose own timing is seeded.
//!
//! The DTLS library (dimpl) jitters its handshake retransmission timers and draws its
//! handshake randoms from the thread's generator unless its config carries a seed. str0m's
//! stock provider sets none, so an `Rtc`'s DTLS timeout — and with it when the engine and
//! the clients wake up — differed from one run of a seed to the next. This provider is
//! str0m's stock one (same certificates, SRTP, hashes) with one change: each DTLS instance
//! gets a seed, drawn in order from a per-thread sequence that [`seed`] restarts. Key
//! material (certificates, key exchange) still comes from the system's secure generator:
//! it changes the bytes on the wire, not what a run observes.

use std::cell::Cell;
use std::sync::Arc;
use std::time::Instant;

use str0m::crypto::CryptoError;
use str0m::crypto::dtls::{
    DtlsCert, DtlsImplError, DtlsInstance, DtlsOutput, DtlsProvider, DtlsVersion, ProtocolVersion,
};

use crate::rng::mix;

thread_local! {
    /// The seed of the next DTLS instance made on this thread.
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// Restarts this thread's sequence of DTLS seeds (once per run, before any `Rtc`).
pub fn seed(seed: u64) {
    NEXT.with(|n| n.set(seed));
}

/// Makes the seeded provider this process's default, which every `Rtc` without a provider
/// of its own uses — the engine's and the clients'. Only simulation processes call this.
pub fn install() {
    static SEEDED: SeededDtls = SeededDtls;
    let mut provider = str0m::crypto::from_feature_flags();
    provider.dtls_provider = &SEEDED;
    provider.install_process_default();
}

#[derive(Debug)]
struct SeededDtls;

impl DtlsProvider for SeededDtls {
    fn generate_certificate(&self) -> Option<DtlsCert> {
        str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
    }

    fn new_dtls(
        &self,
        cert: &DtlsCert,
        now: Instant,
        dtls_version: DtlsVersion,
        mtu: Option<usize>,
    ) -> Result<Box<dyn DtlsInstance>, CryptoError> {
        let seed = NEXT.with(|n| {
            let s = n.get();
            n.set(mix(s ^ 0xd715));
            s
        });
        // As str0m's own provider builds it (ICE has checked the route: no cookie), plus
        // the seed.
        let mut builder = dimpl::Config::builder()
            .use_server_cookie(false)
            .dangerously_set_rng_seed(seed);
        if let Some(mtu) = mtu {
            builder = builder.mtu(mtu);
        }
        let config = Arc::new(
            builder
                .build()
                .map_err(|e| CryptoError::Other(format!("dimpl config: {e}")))?,
        );
        let cert = cert.clone();
        let dtls = match dtls_version {
            DtlsVersion::Dtls12 => dimpl::Dtls::new_12(config, cert, now),
            DtlsVersion::Dtls13 => dimpl::Dtls::new_13(config, cert, now),
            DtlsVersion::Auto => dimpl::Dtls::new_auto(config, cert, now),
            other => {
                return Err(CryptoError::Other(format!(
                    "unsupported DTLS version: {other}"
                )));
            }
        };
        Ok(Box::new(Seeded(dtls)))
    }
}

struct Seeded(dimpl::Dtls);

impl std::fmt::Debug for Seeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SeededDtls")
    }
}

impl DtlsInstance for Seeded {
    fn set_active(&mut self, active: bool) {
        self.0.set_active(active);
    }

    fn handle_packet(&mut self, packet: &[u8]) -> Result<(), DtlsImplError> {
        self.0.handle_packet(packet)
    }

    fn poll_output<'a>(&mut self, buf: &'a mut [u8]) -> DtlsOutput<'a> {
        self.0.poll_output(buf)
    }

    fn handle_timeout(&mut self, now: Instant) -> Result<(), DtlsImplError> {
        self.0.handle_timeout(now)
    }

    fn send_application_data(&mut self, data: &[u8]) -> Result<usize, DtlsImplError> {
        self.0.send_application_data(data)
    }

    fn is_active(&self) -> bool {
        self.0.is_active()
    }

    fn protocol_version(&self) -> Option<ProtocolVersion> {
        self.0.protocol_version()
    }

    fn is_closing(&self) -> bool {
        self.0.is_closing()
    }

    fn is_closed(&self) -> bool {
        self.0.is_closed()
    }

    fn close(&mut self) -> Result<(), DtlsImplError> {
        self.0.close()
    }
}
