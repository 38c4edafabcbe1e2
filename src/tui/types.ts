// The shapes of the Docker API's replies that the dashboard reads (a subset; the engine sends more).

export interface PortSummary { PrivatePort: number; PublicPort?: number; Type: string; IP?: string }

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  Command: string;
  Created: number;
  State: string;
  Status: string;
  Ports: PortSummary[];
  Labels: Record<string, string> | null;
}

export interface ImageSummary {
  Id: string;
  RepoTags: string[] | null;
  Created: number;
  Size: number;
  Containers: number;
  Labels?: Record<string, string> | null;
}

export interface VolumeSummary {
  Name: string;
  Driver: string;
  Mountpoint: string;
  Labels: Record<string, string> | null;
  CreatedAt?: string;
}

export interface NetworkSummary {
  Id: string;
  Name: string;
  Driver: string;
  Internal?: boolean;
  IPAM?: { Config?: { Subnet?: string; Gateway?: string }[] | null };
  Labels?: Record<string, string> | null;
  Containers?: Record<string, unknown> | null;
}

export interface EngineEvent {
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  time: number;
  timeNano: number;
}

export interface HostFinding { name: string; ok: boolean; detail: string; remedy?: string }

export interface EngineInfo {
  ServerVersion?: string;
  Driver?: string;
  Containers?: number;
  ContainersRunning?: number;
  Images?: number;
  NCPU?: number;
  MemTotal?: number;
  CgroupVersion?: string;
  DefaultRuntime?: string;
  DockerRootDir?: string;
  Warnings?: string[];
  Roost?: { IdMapping?: unknown; Runtime?: string; StorageDriver?: string; Host?: HostFinding[] };
}

export interface DiskUsage {
  LayersSize?: number;
  Images?: { Size: number }[];
  Containers?: { SizeRw?: number }[];
  Volumes?: { UsageData?: { Size: number } }[];
}

/** One sample of `GET /containers/{id}/stats?stream=false&one-shot=1`. */
export interface StatsSample {
  read: string;
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage: number; online_cpus: number };
  memory_stats: { usage: number; limit: number };
  pids_stats?: { current?: number };
}

/** A line of `POST /images/create` progress. */
export interface PullProgress {
  id?: string;
  status?: string;
  progressDetail?: { current?: number; total?: number };
  error?: string;
  errorDetail?: { message?: string };
}
