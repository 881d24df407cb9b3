//! The media task's side of SDP: offers to the server (one at a time, retried when they
//! expire), the server's replies, and answers to the server's own offers (glare included).

use super::*;

impl Task {
    pub(super) fn negotiate(
        &mut self,
        sources: Vec<Source>,
        reply: oneshot::Sender<Result<BTreeMap<Source, Mid>>>,
    ) {
        let mut missing: Vec<Source> = sources
            .into_iter()
            .filter(|s| !self.sends.contains_key(s))
            .collect();
        missing.dedup();
        if missing.is_empty() && self.negotiated {
            let _ = reply.send(Ok(self.sends.clone()));
            return;
        }
        let mut api = self.rtc.sdp_api();
        let mut added = Vec::new();
        for source in missing {
            let simulcast =
                (source == Source::Video && !self.options.simulcast.is_empty()).then(|| {
                    let mut simulcast = Simulcast::new();
                    for layer in &self.options.simulcast {
                        simulcast.add_send_layer(SimulcastLayer::new(&layer.rid));
                    }
                    simulcast
                });
            let mid = api.add_media(kind_of(source), Direction::SendOnly, None, None, simulcast);
            added.push((source, mid));
        }
        if !self.negotiated {
            for _ in 0..self.options.recv_audio {
                api.add_media(MediaKind::Audio, Direction::RecvOnly, None, None, None);
            }
            for _ in 0..self.options.recv_video {
                api.add_media(MediaKind::Video, Direction::RecvOnly, None, None, None);
            }
            if added.is_empty() && self.options.recv_audio + self.options.recv_video == 0 {
                // Nothing to send and no slots: a data channel gives the offer an m-line, so
                // the server gets a peer it can later offer receive m-lines to.
                api.add_channel("caucus".to_owned());
            }
        }
        let Some((offer, pending)) = api.apply() else {
            // Only possible with nothing to send and no slots: nothing to negotiate.
            self.negotiated = true;
            let _ = reply.send(Ok(self.sends.clone()));
            return;
        };
        let sdp = offer.to_sdp_string();
        debug!(peer = %self.me, added = ?added, "offering");
        if let Err(e) = self.signal.request_for_media(ClientBody::Offer { sdp }) {
            let _ = reply.send(Err(e));
            return;
        }
        self.negotiation = Some(Negotiation {
            deadline: Instant::now() + self.options.request_timeout,
            pending,
            added,
            reply,
        });
    }

    pub(super) fn expire_negotiation(&mut self, now: Instant) {
        if self.negotiation.as_ref().is_some_and(|n| n.deadline <= now) {
            if let Some(n) = self.negotiation.take() {
                warn!(peer = %self.me, "the server did not answer our offer");
                let timeout = self.options.request_timeout;
                let _ = n.reply.send(Err(ClientError::timeout(
                    "the answer to our offer",
                    timeout,
                )));
            }
            self.next_negotiation();
        }
    }

    pub(super) fn next_negotiation(&mut self) {
        if let Some(Command::Negotiate { sources, reply }) = self.waiting.pop_front() {
            self.negotiate(sources, reply);
        }
    }

    pub(super) fn on_offer_reply(&mut self, reply: Result<Option<ReplyData>>) {
        let Some(n) = self.negotiation.take() else {
            warn!(peer = %self.me, "offer reply without an offer");
            return;
        };
        let result = reply.and_then(|data| match data {
            Some(ReplyData::Answer { sdp }) => {
                let answer = SdpAnswer::from_sdp_string(&sdp)
                    .map_err(|e| ClientError::Media(format!("server answer: {e}")))?;
                self.rtc
                    .sdp_api()
                    .accept_answer(n.pending, answer)
                    .map_err(|e| ClientError::Media(format!("accept answer: {e}")))?;
                self.negotiated = true;
                self.sends.extend(n.added.iter().copied());
                Ok(self.sends.clone())
            }
            other => Err(ClientError::Protocol(format!(
                "an offer was answered with {other:?}"
            ))),
        });
        if let Err(e) = &result {
            warn!(peer = %self.me, error = %e, "negotiation failed");
        }
        let _ = n.reply.send(result);
        self.drain(Instant::now());
        self.next_negotiation();
    }

    pub(super) fn on_server_offer(&mut self, sdp: String) {
        if self.negotiation.is_some() {
            // Glare: the server abandons its offer when ours arrives and offers again later.
            debug!(peer = %self.me, "server offer during our own: ignored (client wins)");
            return;
        }
        let answer = SdpOffer::from_sdp_string(&sdp)
            .map_err(|e| ClientError::Media(format!("server offer: {e}")))
            .and_then(|offer| {
                self.rtc
                    .sdp_api()
                    .accept_offer(offer)
                    .map_err(|e| ClientError::Media(format!("accept offer: {e}")))
            });
        match answer {
            Ok(answer) => {
                let sent = self.signal.request_detached(ClientBody::Answer {
                    sdp: answer.to_sdp_string(),
                });
                if let Err(e) = sent {
                    warn!(peer = %self.me, error = %e, "could not send the answer");
                }
                debug!(peer = %self.me, "answered a server offer");
                self.emit(ClientEvent::Renegotiated);
            }
            Err(e) => warn!(peer = %self.me, error = %e, "server offer refused"),
        }
        self.drain(Instant::now());
    }
}
