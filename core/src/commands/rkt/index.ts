// The rkt command table (oclif's explicit discovery): id = topic words joined by ':'.
import type {Command} from '@oclif/core'

import AppAdd from './app/add.js'
import AppExec from './app/exec.js'
import AppList from './app/list.js'
import AppRm from './app/rm.js'
import AppSandbox from './app/sandbox.js'
import AppStart from './app/start.js'
import AppStatus from './app/status.js'
import AppStop from './app/stop.js'
import ConfigCmd from './config.js'
import Stop from './stop.js'
import Status from './status.js'
import Rm from './rm.js'
import List from './list.js'
import Logs from './logs.js'
import MetadataService from './metadata-service.js'
import Gc from './gc.js'
import Install from './install.js'
import Export from './export.js'
import Enter from './enter.js'
import Attach from './attach.js'
import CatManifest from './cat-manifest.js'
import Completion from './completion.js'
import Fetch from './fetch.js'
import ImageCatManifest from './image/cat-manifest.js'
import ImageExport from './image/export.js'
import ImageExtract from './image/extract.js'
import ImageGc from './image/gc.js'
import ImageList from './image/list.js'
import ImageRebuildIndex from './image/rebuild-index.js'
import ImageRender from './image/render.js'
import ImageRm from './image/rm.js'
import ImageVerify from './image/verify.js'
import Prepare from './prepare.js'
import RunPrepared from './run-prepared.js'
import Run from './run.js'
import Stage1New from './stage1/new.js'
import Stage1Test from './stage1/test.js'
import Trust from './trust.js'
import Version from './version.js'

export const RKT_COMMANDS: Record<string, Command.Class> = {
  'app:add': AppAdd,
  'app:exec': AppExec,
  'app:list': AppList,
  'app:rm': AppRm,
  'app:sandbox': AppSandbox,
  'app:start': AppStart,
  'app:status': AppStatus,
  'app:stop': AppStop,
  attach: Attach,
  'cat-manifest': CatManifest,
  completion: Completion,
  enter: Enter,
  export: Export,
  gc: Gc,
  install: Install,
  list: List,
  logs: Logs,
  'metadata-service': MetadataService,
  rm: Rm,
  status: Status,
  stop: Stop,
  config: ConfigCmd,
  fetch: Fetch,
  'image:cat-manifest': ImageCatManifest,
  'image:export': ImageExport,
  'image:extract': ImageExtract,
  'image:gc': ImageGc,
  'image:list': ImageList,
  'image:rebuild-index': ImageRebuildIndex,
  'image:render': ImageRender,
  'image:rm': ImageRm,
  'image:verify': ImageVerify,
  prepare: Prepare,
  run: Run,
  'run-prepared': RunPrepared,
  'stage1:new': Stage1New,
  'stage1:test': Stage1Test,
  trust: Trust,
  version: Version,
}

export const RKT_TOPICS = {
  app: {description: 'Operate on the apps of a mutable pod (rkt app sandbox)'},
  image: {description: 'Operate on image(s) in the local store'},
  stage1: {description: 'Work with stage1 images'},
}
