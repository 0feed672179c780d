// The bodies of the four clock.* messages (protocol/schemas/v1/clock.*.json), field for field, so the
// library that moves them can pass them through as they are.

/** `clock.poll.request`: the coordinator asks for a participant's clock. */
export interface ClockPollRequestBody {
  round: number;
}

/** `clock.poll.reply`: the participant's clock, ms since the epoch, when it answered. */
export interface ClockPollReplyBody {
  round: number;
  time: number;
}

/** `clock.adjust.request`: how much the participant should add to its clock (it slews, never steps back). */
export interface ClockAdjustRequestBody {
  round: number;
  adjust_ms: number;
}

/** `clock.adjust.reply`: whether the participant accepted the adjustment. */
export interface ClockAdjustReplyBody {
  round: number;
  applied: boolean;
}
