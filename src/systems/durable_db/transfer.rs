//! Bulk transfers between nodes (a restore, a base backup): a payload sent
//! as chunks paced at a rate, the last chunk carrying it. Hosts and the
//! backup store both send them.

use super::config::DurableDbConfig;
use super::{DurableNode, Msg, Payload, Timer};
use crate::sim::{Ctx, NodeId};
use crate::systems::parts::backup::transfer_time;
use crate::time::SimDuration;
use std::sync::Arc;

/// Sends `payload` to `to` as chunks paced at `mbps` (the last chunk
/// carries it); the links' bandwidth may slow it further.
pub(super) fn send_paced(
    ctx: &mut Ctx<'_, DurableNode>,
    cfg: &DurableDbConfig,
    to: NodeId,
    transfer: u32,
    payload: Arc<Payload>,
    mbps: f64,
) {
    let chunk = (cfg.restore.chunk_mb * 1e6) as u64;
    let left = payload.data.bytes.div_ceil(chunk.max(1)).max(1) as u32;
    let gap = transfer_time(chunk, mbps);
    chunk_step(ctx, cfg, to, transfer, left, payload, gap);
}

pub(super) fn chunk_step(
    ctx: &mut Ctx<'_, DurableNode>,
    cfg: &DurableDbConfig,
    to: NodeId,
    transfer: u32,
    left: u32,
    payload: Arc<Payload>,
    gap: SimDuration,
) {
    let chunk = (cfg.restore.chunk_mb * 1e6) as u64;
    if left <= 1 {
        let last = payload
            .data
            .bytes
            .saturating_sub(chunk * (payload.data.bytes / chunk.max(1)));
        let bytes = if last == 0 { chunk } else { last };
        ctx.send(
            to,
            Msg::Chunk {
                transfer,
                bytes: bytes.min(u32::MAX as u64) as u32,
                payload: Some(payload),
            },
        );
        return;
    }
    ctx.send(
        to,
        Msg::Chunk {
            transfer,
            bytes: chunk.min(u32::MAX as u64) as u32,
            payload: None,
        },
    );
    ctx.set_timer(
        gap,
        Timer::SendChunk {
            to,
            transfer,
            left: left - 1,
            payload,
            gap,
        },
    );
}
