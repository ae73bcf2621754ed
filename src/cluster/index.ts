export { type Peer, PeerSet, parsePeers } from './peers.js';
export {
  type ClusterConfig,
  type ClusterDeps,
  ClusterRouter,
  type RemoteOpen,
  type RemoteRefusal,
} from './router.js';
