export { type AuditEvent, type AuditSink, JsonLinesAudit } from './audit.js';
export {
  createTranscript,
  type SessionInfo,
  TRANSCRIPT_FORMATS,
  type Transcript,
  type TranscriptFormat,
  type TranscriptOptions,
} from './transcript.js';
