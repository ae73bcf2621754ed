export {
  BindError,
  type Otssh,
  type OtsshConfig,
  type Outcome,
  RelayError,
  startOtssh,
} from './otssh.js';
