"""The means themselves: e-CPS devices (enrolment, PIN, device keys, OTP seeds, validity), the
challenges pushed to them, and the outbox that carries one-time codes. CPx cards come next."""
